# ruff: noqa: F821  (include/package are the manifest's own functions, given by makemanifest.py)
# Freezes the watch into a MicroPython image (docs/flashing.md, "A custom image"):
#   make -C micropython/ports/esp32 BOARD=ESP32_GENERIC BOARD_VARIANT=SPIRAM \
#        FROZEN_MANIFEST=$PWD/manifest.py
# Paths are relative to this file. package() freezes every .py under the folder, the same list
# tools/compile.py compiles (tests/tools/test_deploy.py checks it). The board's main.py and
# /data/config.json still go on the flash: tools/deploy.py --frozen.
include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules (asyncio among them)
package("firmware")
package("boards")
