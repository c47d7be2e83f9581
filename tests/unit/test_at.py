"""AT engine: results, errors, timeouts, URCs, garbage, reboot, prompt and raw payloads."""
import support
from firmware import clock
from firmware.compat import sleep_ms
from firmware.drivers.at import ATEngine, ATError, ATReset, ATTimeout
from scripted import ScriptedUART

VT = support.VT


def _engine():
    u = ScriptedUART()
    return u, ATEngine(u)


def test_ok_with_info_lines_and_echo():
    async def main():
        u, at = _engine()
        u.on("AT+SIMCOMATI", b"AT+SIMCOMATI\r\r\nManufacturer: SIMCOM INCORPORATED\r\n"
                             b"Model: A7670E-LASE\r\n\r\nOK\r\n")
        lines = await at.cmd("AT+SIMCOMATI")
        assert lines == ["Manufacturer: SIMCOM INCORPORATED", "Model: A7670E-LASE"], lines
        assert u.written == b"AT+SIMCOMATI\r"
        assert at.garbage == 0 and not at.busy

    support.run(main())


def test_prefix_selects_response_lines():
    async def main():
        u, at = _engine()
        u.on("AT+CSQ", b"\r\n+CSQ: 21,99\r\nSTRAY\r\n\r\nOK\r\n")
        assert await at.cmd("AT+CSQ", prefix="+CSQ:") == ["+CSQ: 21,99"]
        assert at.garbage == 1  # the unknown line is not the response

    support.run(main())


def test_cme_error_text_and_numeric_and_cms():
    async def main():
        u, at = _engine()
        u.on("AT+CPIN?", b"\r\n+CME ERROR: SIM failure\r\n")
        e = await support.araises(ATError, at.cmd("AT+CPIN?"))
        assert e.code == "SIM failure" and e.command == "AT+CPIN?"
        assert isinstance(e, OSError)
        u.on("AT+CPIN?", b"\r\n+CME ERROR: 13\r\n")
        e = await support.araises(ATError, at.cmd("AT+CPIN?"))
        assert e.code == 13
        u.on("AT+CMGS=*", b"\r\n+CMS ERROR: 330\r\n")
        e = await support.araises(ATError, at.cmd('AT+CMGS="+4712345678"'))
        assert e.code == 330

    support.run(main())


def test_plain_error():
    async def main():
        u, at = _engine()
        u.on("AT+FOO", b"\r\nERROR\r\n")
        e = await support.araises(ATError, at.cmd("AT+FOO"))
        assert e.code is None

    support.run(main())


def test_dial_results_are_errors_only_for_dial_commands():
    async def main():
        u, at = _engine()
        u.on("ATD112;", b"\r\nNO CARRIER\r\n")
        e = await support.araises(ATError, at.cmd("ATD112;"))
        assert e.code == "NO CARRIER"
        u.on("AT+CLCC", b"\r\nBUSY\r\n\r\nOK\r\n")
        assert await at.cmd("AT+CLCC") == ["BUSY"]

    support.run(main())


def test_timeout_then_recovers():
    async def main():
        u, at = _engine()
        u.on("AT+CGSN", b"\r\n351602000330570\r\n\r\nOK\r\n", delay_ms=1500)  # too late
        t0 = clock.ticks_ms()
        e = await support.araises(ATTimeout, at.cmd("AT+CGSN", 1000))
        waited = clock.ticks_diff(clock.ticks_ms(), t0)
        assert e.errno == 110 and isinstance(e, OSError)
        assert 1000 <= waited < 1100, waited
        assert at.timeouts == 1 and not at.busy
        await sleep_ms(1000)  # the stale reply arrives meanwhile
        u.on("AT", b"\r\nOK\r\n")
        assert await at.cmd("AT") == []
        assert at.garbage == 2  # stale IMEI line and stale OK

    support.run(main())


def test_urc_mid_response_goes_to_handler():
    async def main():
        u, at = _engine()
        seen = []
        at.on_urc("+CIPRXGET: 1,", seen.append)
        u.on("AT+CGSN", b"\r\n351602000330570\r\n\r\n+CIPRXGET: 1,0\r\n\r\nOK\r\n")
        assert await at.cmd("AT+CGSN") == ["351602000330570"]
        assert seen == ["+CIPRXGET: 1,0"]
        assert at.urcs == 1

    support.run(main())


def test_urc_split_across_reads_and_idle_pump():
    async def main():
        u, at = _engine()
        seen = []
        at.on_urc("+IPCLOSE:", seen.append)
        u.push(b"\r\n+IPCL")
        await at.pump()
        assert seen == []
        u.push(b"OSE: 1,1\r\n")
        await at.pump()
        assert seen == ["+IPCLOSE: 1,1"]
        u.push(b"\r\nSOMETHING ELSE\r\n")  # unknown unsolicited line
        await at.pump()
        assert at.garbage == 1 and at.urcs == 1

    support.run(main())


def test_handler_exception_is_counted_not_raised():
    async def main():
        u, at = _engine()

        def bad(line):
            raise ValueError("handler bug")

        at.on_urc("+X:", bad)
        u.push(b"\r\n+X: 1\r\n")
        await at.pump()
        assert at.handler_errors == 1

    support.run(main())


def test_garbage_counted_and_skipped():
    async def main():
        u, at = _engine()
        u.on("AT+CSQ", b"\xff\xfe\r\n\r\nab\x01\x02cd\r\n\r\n+CSQ: 5,99\r\n\r\nOK\r\n")
        assert await at.cmd("AT+CSQ", prefix="+CSQ:") == ["+CSQ: 5,99"]
        assert at.garbage == 2
        # leading noise before a real line is dropped, the line kept
        u.on("AT", b"\r\n\x00\xffOK\r\n")
        assert await at.cmd("AT") == []
        assert at.garbage == 3

    support.run(main())


def test_long_line_truncated_and_bounded():
    async def main():
        u, at = _engine()
        u.on("AT+LONG", b"\r\n+LONG: " + b"A" * 2000 + b"\r\n\r\nOK\r\n")
        lines = await at.cmd("AT+LONG", prefix="+LONG:")
        assert len(lines) == 1 and len(lines[0]) == 512
        assert at.truncated == 1

    support.run(main())


def test_reboot_mid_command_fails_at_once():
    async def main():
        u, at = _engine()
        boots = []
        at.on_reboot(boots.append)
        u.on("AT+COPS=?", b"")  # slow command: no answer for a long time
        u.push(b"\r\n*ATREADY: 1\r\n", 300)
        t0 = clock.ticks_ms()
        await support.araises(ATReset, at.cmd("AT+COPS=?", 60000))
        took = clock.ticks_diff(clock.ticks_ms(), t0)
        assert took < 1000, took
        assert boots == ["*ATREADY: 1"]
        assert not at.busy
        u.push(b"\r\nRDY\r\n")  # the other families' ready string, while idle
        await at.pump()
        assert boots == ["*ATREADY: 1", "RDY"]

    support.run(main())


def test_prompt_send_writes_exact_bytes():
    async def main():
        u, at = _engine()
        u.on("AT+CIPSEND=0,5", b"\r\n> ")
        u.on(b"he\rlo", [(0, b"\r\nOK\r\n"), (200, b"\r\n+CIPSEND: 0,5,5\r\n")], data=True)
        w = at.expect("+CIPSEND: 0,")
        assert await at.send_data("AT+CIPSEND=0,5", b"he\rlo") == []
        assert u.written == b"AT+CIPSEND=0,5\rhe\rlo"
        assert await at.wait(w, 1000) == "+CIPSEND: 0,5,5"
        assert u.unmatched == []

    support.run(main())


def test_prompt_refused():
    async def main():
        u, at = _engine()
        u.on("AT+CIPSEND=0,5", b"\r\n+CME ERROR: operation not allowed\r\n")
        e = await support.araises(ATError, at.send_data("AT+CIPSEND=0,5", b"hello"))
        assert e.code == "operation not allowed"
        assert u.written == b"AT+CIPSEND=0,5\r"  # data never sent

    support.run(main())


def _n(line):
    return int(line.split(",")[2])


def test_raw_payload_with_ok_inside():
    async def main():
        u, at = _engine()
        payload = b"ab\r\nOK\r\n\xff\x00"
        u.on("AT+CIPRXGET=2,1,1460", b"\r\n+CIPRXGET: 2,1,10,0\r\n" + payload + b"\r\nOK\r\n")
        lines, data = await at.cmd("AT+CIPRXGET=2,1,1460", 1000, "+CIPRXGET: 2,", "+CIPRXGET: 2,", _n)
        assert data == payload
        assert lines == ["+CIPRXGET: 2,1,10,0"]
        assert at.garbage == 0

    support.run(main())


def test_raw_payload_arriving_in_pieces():
    async def main():
        u, at = _engine()
        u.on("AT+CIPRXGET=2,1,1460", [(0, b"\r\n+CIPRXGET: 2,1,6,0\r\nabc"), (50, b"def\r\nOK\r\n")])
        lines, data = await at.cmd("AT+CIPRXGET=2,1,1460", 1000, "+CIPRXGET: 2,", "+CIPRXGET: 2,", _n)
        assert data == b"abcdef"

    support.run(main())


def test_one_command_at_a_time():
    async def main():
        import asyncio

        u, at = _engine()
        u.on("AT+A", b"\r\nA\r\n\r\nOK\r\n", delay_ms=100)
        u.on("AT+B", b"\r\nB\r\n\r\nOK\r\n", delay_ms=10)
        ra, rb = await asyncio.gather(at.cmd("AT+A"), at.cmd("AT+B"))
        assert ra == ["A"] and rb == ["B"]
        assert u.commands() == ["AT+A", "AT+B"]
        assert u.log[1][0] >= 100  # B was written only after A finished

    support.run(main())


def test_waiter_times_out_and_urc_before_expect_is_not_lost():
    async def main():
        u, at = _engine()
        w = at.expect("+CIPOPEN: 1,")
        e = await support.araises(ATTimeout, at.wait(w, 500))
        assert e.errno == 110
        # result URC in the same read as OK: still caught because expect() came first
        u.on('AT+CIPOPEN=1,"TCP","h",1', b"\r\nOK\r\n\r\n+CIPOPEN: 1,0\r\n")
        w = at.expect("+CIPOPEN: 1,")
        await at.cmd('AT+CIPOPEN=1,"TCP","h",1')
        assert await at.wait(w, 500) == "+CIPOPEN: 1,0"

    support.run(main())


def test_hooks_run_around_every_command():
    async def main():
        u, at = _engine()
        calls = []

        async def before():
            calls.append("before")

        at.before_cmd = before
        at.after_cmd = lambda: calls.append("after")
        u.on("AT", b"\r\nOK\r\n")
        u.on("AT+X", b"\r\nERROR\r\n")
        await at.cmd("AT")
        await support.araises(ATError, at.cmd("AT+X"))
        assert calls == ["before", "after", "before", "after"]

    support.run(main())


def test_prompt_completed_by_a_urc_still_sends():
    # '\r\n> ' followed at once by a URC turns the prompt into a complete line '>'
    async def main():
        u, at = _engine()
        seen = []
        at.on_urc("+CSQ:", seen.append)
        u.on("AT+CIPSEND=0,3", b"\r\n> \r\n+CSQ: 20,99\r\n")
        u.on(b"abc", b"\r\nOK\r\n", data=True)
        await at.send_data("AT+CIPSEND=0,3", b"abc", 1000)
        assert u.written.endswith(b"AT+CIPSEND=0,3\rabc")
        assert seen == ["+CSQ: 20,99"]

    support.run(main())


def test_silent_counts_commands_in_a_row_without_answer():
    async def main():
        u, at = _engine()
        for _ in range(3):
            await support.araises(ATTimeout, at.cmd("AT+CSQ", 100))
        assert at.silent == 3
        u.on("AT", b"\r\nOK\r\n")
        await at.cmd("AT", 100)
        assert at.silent == 0

    support.run(main())


def test_an_echo_after_ate0_means_the_modem_restarted_unseen():
    # its *ATREADY can be lost (sent while the ESP32 light-slept); the echo coming back is the
    # other sign that the modem forgot ATE0, CMEE, CFGRI and CSCLK
    async def main():
        u, at = _engine()
        seen = []
        at.on_reboot(seen.append)
        u.on("ATE0", b"ATE0\r\r\n\r\nOK\r\n")
        await at.cmd("ATE0", 100)
        at.echo_off = True
        u.on("AT+CSQ", b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
        assert await at.cmd("AT+CSQ", 100, "+CSQ:") == ["+CSQ: 20,99"]  # the command still works
        assert len(seen) == 1 and not at.echo_off

    support.run(main())


def test_a_payload_announced_longer_than_sent_does_not_swallow_the_next_reply():
    async def main():
        u, at = _engine()
        rx = "+CIPRXGET: 2,"
        # 10 bytes announced, 3 sent: the OK is read as payload, the command times out ...
        u.on("AT+CIPRXGET=2,0,10", b"\r\n+CIPRXGET: 2,0,10,0\r\nabc\r\nOK\r\n")
        await support.araises(ATTimeout, at.cmd("AT+CIPRXGET=2,0,10", 3000, rx, rx, _n))
        # ... and the raw read ends with it: the next command's reply is a reply again
        u.on("AT+CSQ", b"\r\n+CSQ: 21,99\r\n\r\nOK\r\n")
        assert await at.cmd("AT+CSQ", prefix="+CSQ:") == ["+CSQ: 21,99"]

    support.run(main())


def test_a_reply_that_never_ends_is_cut_not_kept():
    # issue 10 #9: a command whose final result never came kept every line until its timeout
    # (260 KB in 5 s at 115200 baud); now it fails once its reply passes the bound, and the
    # babble left over is drained as garbage, not kept
    async def main():
        u, at = _engine()
        babble = b"".join(b"\r\n+CMGL: %d,\"REC READ\",\"+4790000000\"\r\n" % i for i in range(2000))
        u.on("AT+CMGL*", babble)  # ~80 KB and no OK
        e = await support.araises(ATError, at.cmd('AT+CMGL="ALL"', 5000, "+CMGL:"))
        assert "reply over" in str(e) and at.truncated == 1 and not at.busy
        u.on("AT", b"\r\nOK\r\n")
        assert await at.cmd("AT") == []
        assert at.garbage > 1000  # the rest, counted and dropped

    support.run(main())
