"""Hardware drivers: each receives its UART/Pin/bus from the board, never creates it."""
