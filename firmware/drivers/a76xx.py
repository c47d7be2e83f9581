"""SIMCom A76xx (A7670) modem driver on the AT engine.

The driver receives its UART and pins (STYLE.md habit 1). Formats and quirks come from
docs/reference/hardware.md; the section is named where each is used.

Lifecycle (inside the running asyncio loop):
    m = A76xx(uart, pwrkey, dtr, ri)
    m.start()                      # creates the `wake` ThreadSafeFlag, arms the RI IRQ
    await m.power_on()             # PWRKEY pulse, *ATREADY / AT probe, ATE0, CMEE=2, CFGRI=1
    await m.wait_sim(); await m.wait_registered(); await m.net_open(); ...

Sockets use buffer-access receive mode (AT+CIPRXGET=1, §1.7): the modem keeps incoming bytes
until tcp_recv() asks, so nothing arrives unannounced in the middle of another reply.

Events (ARCHITECTURE.md §3a): URCs become typed events in `events` (firmware/drivers/events.py)
for the app's router. `run()` is the driver's own task: it reads URCs when RI rings, and after
an RI edge that woke the ESP32 from light sleep asks the modem for the state it may have missed
(AT+CLCC, AT+CMGL, and a 'data' event for each open socket), because URC bytes that arrive while
the ESP32 light-sleeps are lost (the board counts its sleeps in `sleeps`). A modem restart
outside power_on() (`*ATREADY`) counts in `reboots`, closes every socket
('closed' events), sets `needs_init` and queues REBOOT; the command that was running raises
ATReset. Commands in a row without an answer queue HUNG.

Voice and SMS (§1.5, §1.6): phone_setup() turns on caller id (+CLIP), call-state URCs
(+CLCC), SMS text mode with the GSM alphabet and header details (AT+CSDH=1: every SMS header
carries the body length, so bodies are read by length, never as lines) and +CMTI
notifications (SMS stored on the SIM: nothing is lost while the ESP32 sleeps).

Set-up after every power-on (power_on(), then _setup()), as the manual describes the module:
* The model, once per ESP32 boot: ATI's `Model:` line (A76-ATM §2.2.7; AT+CGMM, §2.2.17, if ATI
  has none). Variants lack parts (hardware.md §1.2a): `has_gnss`, `has_voice`, `has_sms` say
  what this one has, and the services use only that instead of failing a command every report.
* AT+CTZU=1, once per ESP32 boot: network time (NITZ) updates the modem's clock only with it,
  and its factory value is 0 (A76-ATM §4.2.12: AUTO_SAVE, nonvolatile). The time comes some
  time after registration, or never (operators that send no NITZ): network_time() is None
  until then and the app asks again later (firmware/app.py).
* AT+CIPTIMEOUT (NO_SAVE, so at every boot): AT+NETOPEN, AT+CIPOPEN and AT+CIPSEND may each
  take 120 s by default (A76-ATM §15.2.1, §15.2.3, §15.2.4, §15.2.12); set to _NET_TIMEOUT_MS,
  below every wait of this driver, the modem gives up first and says so, and both sides agree
  on the socket's state. A network slower than that every time would never be reached: each
  timeout (<err> 10) doubles the limit, up to the manual's 120 s, for as long as the ESP32
  runs (_slow_net; the driver's waits follow it).

Socket errors keep the modem's codes (SocketError): `+CIPOPEN: <link>,<err>` or `+CIPERROR:
<err>` or `+IP ERROR: <text>` followed by ERROR is the modem refusing at once (busy: a link in
use, the network not or already open: nothing went on air, A76-ATM §15.2.3 case 3, §15.2.4
case 3, §15.3.1); `OK` then a result with <err> != 0 is an operation that started and failed
(the network, the server, the modem's own timeout: err 10, §15.3.2). After `+CIPEVENT: NETWORK
CLOSED UNEXPECTEDLY` the modem's network library may stay open with its PDP context gone: the
next net_open() closes the sockets it held and sends AT+NETCLOSE before AT+NETOPEN (§15.4).

TLS (the SSL client, A76-ATM §19, SSL app note "A76-SSL" §3.3): tls_setup() stores the CA
provisioned with the watch in the module (AT+CCERTDOWN, §19.2.2: the module's own flash, so once
per CA: AT+CCERTLIST tells whether it is there) and makes SSL context 0 check the server against
it (AT+CSSLCFG, §19.2.1: TLS 1.2, server authentication, that CA, SNI, a 20 s handshake limit);
the context is not saved (§19.2.1 "Parameter Saving Mode -"), so it is set after every modem
boot. tls_open() starts the SSL service once per boot (AT+CCHSET=1,1 before AT+CCHSTART, §19.2.5,
§19.2.7: +CCHSEND results, and manual receive: the module caches what arrives and says
`+CCHEVENT: <s>,RECV EVENT`, so nothing arrives unannounced inside another reply) and connects
(AT+CCHSSLCFG, AT+CCHOPEN type 2). A server whose certificate the CA does not sign fails the
handshake (`+CCHOPEN: <s>,15`, §19.3.1; 19 when no certificate is set): TlsRefused, and nothing
was sent. Sessions 0..1 raise DATA/CLOSED events as links TLS_LINK + session, after the ten TCP
links. The PEM text is never logged.

HTTP(S) (A76-ATM §16, HTTP(S) app note §3): http_get() keeps the HTTP service up between
requests (AT+HTTPINIT once, timeouts below the driver's waits), sets the URL (AT+HTTPPARA) and
AT+HTTPACTION=0 -> `+HTTPACTION: 0,<status>,<len>`, then reads a body with AT+HTTPREAD (its bytes
come after OK, each chunk announced by `+HTTPREAD: <n>`, the end by `+HTTPREAD: 0`). https uses
SSL context 0 (AT+HTTPPARA="SSLCFG"); the module's 715 (handshake) and 719 (CA missed) are
TlsRefused, its other 6xx/7xx codes SocketError.
"""
import asyncio

from firmware import clock, log, smscodec
from firmware.compat import ThreadSafeFlag, const, sleep_ms, wait_for_ms
from firmware.contacts import digits
from firmware.drivers import events as ev
from firmware.drivers.at import ATEngine, ATError, ATReset, ATTimeout
from firmware.drivers.events import EventQueue
from firmware.fix import Cell, Fix, udeg_from_ddmm, udeg_from_decimal

_PULSE_MS = const(100)  # A7670 PWRKEY pulse used by LilyGO (hardware.md §5.2)
_PROBE_MS = const(1000)  # AT probe period while the modem boots
_DTR_WAKE_MS = const(50)  # DTR low -> UART usable again (A76-SLEEP, hardware.md §1.9)
_RECV_MAX = const(1460)  # bytes asked per AT+CIPRXGET=2
_RECV_CHUNKS = const(3)  # at most ~4 KiB per tcp_recv call
_OFF_PRESS_MS = const(3000)  # PWRKEY held >= 2.5 s powers an A7670 off (hardware.md §5.2)
_OFF_WAIT_MS = const(2500)  # >= 2 s off before powering on again (§5.2)
_SEND_MAX = const(1460)  # bytes per AT+CIPSEND
_LINKS = const(10)  # A76xx socket links 0..9
_YEAR_MIN = const(24)  # CCLK years outside 2024..2069 are an unset RTC (reset default 70/80)
_YEAR_MAX = const(69)
# Belt and braces: look at the UART buffer at least this often. Not a round minute: the driver's
# loop restarts at a wake that often starts a report cycle too, whose looks come every 60 s, and
# a timeout due at the same millisecond as another task's sleep is resumed in a different order
# by CPython's and MicroPython's asyncio (the simulator's two runs of the week then parted).
_POLL_MS = const(59993)
_RI_STEP_MS = const(20)
_SMS_SEND_MS = const(60000)  # AT+CMGS: up to 40 s (A76-ATM §9.2.13); TinyGSM waits 60 s
_SMS_MAX = const(1024)  # longest SMS body read; a longer one is cut (a single SMS is <= 160)
# AT+CIPTIMEOUT=<netopen>,<cipopen>,<cipsend> (A76-ATM §15.2.12, 3000..120000 ms, default 120000
# each): the modem's own limit, below the driver's waits (the uplink's 30 s connect, the
# driver's 30 s send): it answers its timeout error (<err> 10, §15.3.2) before anyone gives up
_NET_TIMEOUT_MS = const(20000)
_NET_TIMEOUT_MAX_MS = const(120000)  # the manual's most (and default); a slow network's limit
_NET_MARGIN_MS = const(5000)  # the modem's timeout result on its way: the driver waits this more
# TLS and HTTP(S) (A76-ATM §19, §16)
TLS_LINK = 10  # the event link of TLS session 0 (session 1: 11); TCP links are 0..9
_TLS_SESSIONS = const(2)  # <session_id> 0..1 (§19.2.12)
_TLS_CTX = const(0)  # the SSL context (0..9, §19.2.1) tls_setup() configures and both use
_TLS_SEND_MAX = const(1460)  # bytes per AT+CCHSEND (<len> 1..2048, §19.2.14)
_TLS_RECV_MAX = const(1460)  # bytes asked per AT+CCHRECV (<max_recv_len> 0..2048, §19.2.15)
_TLS_RX_MAX = const(8192)  # bytes of +CCHRECV data kept between reads; the rest is dropped
_TLS_NEGOTIATE_S = const(20)  # <negotiatetime> 10..300 s, default 300 (§19.2.1): below our waits
_TLS_HANDSHAKE = const(15)  # <err> "Handshake error" (§19.3.1)
_TLS_NO_CERT = const(19)  # <err> "Not set certificates"
_CERT_MAX = const(10240)  # AT+CCERTDOWN <len> 1..10240 (§19.2.2)
_HTTP_CONNECT_S = const(20)  # AT+HTTPPARA="CONNECTTO" 20..120 s, default 120 (§16.2.3)
_HTTP_RECV_S = const(20)  # "RECVTO" 2..120 s, default 20
_HTTP_BODY_MAX = const(2048)  # bytes of a response body read (OsmAnd's is a command text)
# +HTTPACTION <errcode> (§16.3.2) of a server the CA does not vouch for: 715 handshake failed,
# 719 CA missed
_HTTP_TLS_ERRS = (715, 719)
# GNSS (hardware.md §1.3). READY comes ~9 s after every AT+CGNSSPWR=1: the GNSS firmware is
# loaded at each power-on (GNSS dynamic loading app note §3.2, §3.4; A76-ATM §24.2.1 note 2,
# Max Response Time 9000 ms); 3 s of margin.
_GNSS_READY_MS = const(12000)
_GNSS_REFUSED_MAX = const(3)  # AT+CGNSSPWR? refused this often in a row: no receiver (gnss_power)
_AGPS_MS = const(30000)  # AT+CAGPS -> '+AGPS: ...' (A76-ATM §24.2.15: 9000 ms max; margin)
_ALT_MIN = const(-1000)  # m: +CGNSSINFO values outside these are garbage, not a fix
_ALT_MAX = const(18000)  # m: the CoCom altitude limit
_KNOTS_MAX = const(1000)  # the CoCom speed limit, 1000 kn (515 m/s)
_UERE_M = const(5)  # ASSUMED 1-sigma user equivalent range error (parse_cgnssinfo)
_ACC_SIGMAS = const(2)  # the accuracy claimed covers 2 DRMS (~95%), not one (~65%)
_ACC_MIN = const(5)  # m, the smallest accuracy claimed
_ACC_NO_HDOP = const(50)  # m, when the line has no HDOP (ASSUMED)
# +CPSI signal bounds (parse_cpsi): RSRP_00..RSRP_97 (3GPP TS 36.133), dBm = raw - 140 (A76-ATM
# §4.2.9) or dBm directly; GSM RxLev 0..63 (TS 45.008), dBm = rxlev - 110, or dBm directly
_RSRP_RAW_MAX = const(97)
_RSRP_DBM_MIN = const(-140)
_RSRP_DBM_MAX = const(-44)
_RXLEV_MAX = const(63)
_GSM_DBM_MIN = const(-120)
_GSM_DBM_MAX = const(-40)

# Unsolicited lines that need no action here; claimed so they are not counted as garbage
# (boot sequence §1.2, registration URCs §1.1, late socket results §1.7).
_QUIET = ("+CPIN:", "PB DONE", "SMS Ready", "+CGEV:", "+CREG:", "+CEREG:", "+CGREG:",
          "*PSNWID", "*PSUTTZ", "+CTZV:", "DST:", "+CGNSSPWR:", "+NETOPEN:", "+NETCLOSE:",
          "+CIPOPEN:", "+CIPCLOSE:", "+CIPSEND:", "+CMGS:")
# ... and the SSL and HTTP services' late results and notices (§19.4, §16.4)
_QUIET_TLS = ("+CCHSTART:", "+CCHSTOP:", "+CCHOPEN:", "+CCHCLOSE:", "+CCHSEND:", "+CCHRECV:",
              "+HTTPACTION:", "+HTTP_PEER_CLOSED", "+HTTP_NONET_EVENT")
# +CMS ERROR codes while the SIM's SMS part is still starting (before SMS DONE): try later
_NOT_YET = (14, 314, 500)
_DIAL_ENDS = (("NO CARRIER", "no carrier"), ("BUSY", "busy"), ("NO ANSWER", "no answer"),
              ("VOICE CALL: END", "end"))

# <err> of the socket commands (A76-ATM §15.3.2) that this driver acts on
ERR_NETWORK = const(1)  # network failure
ERR_NOT_OPENED = const(2)  # network not opened
ERR_TIMEOUT = const(10)  # the modem's AT+CIPTIMEOUT passed
# Variants and what they lack, from the model name ATI gives (hardware.md §1.2a; LilyGO-T-A76XX
# docs "Modem differences"): A7670G has no GNSS (LilyGO issue #52: every GNSS command answers
# ERROR on an A7670G-LLSE), nor have the -LASE, -LASC, -LLSE, -LABE and -LNXY variants;
# A7670E-LNXY-UBL has no voice and no SMS, nor has SIM7670G's firmware (LilyGO's Voice_Call
# example, quoted in LilyGo-Modem-Series issue #441). A name not listed has everything.
_NO_GNSS = ("A7670G", "-LASE", "-LASC", "-LLSE", "-LABE", "-LNXY")
_NO_VOICE = ("-LNXY", "SIM7670G")
_NO_SMS = ("-LNXY", "SIM7670G")


def _lacks(model, marks):
    for m in marks:
        if (m[0] == "-" and m in model) or model.startswith(m):
            return True
    return False


def capabilities(model):
    """(gnss, voice, sms) of a module by its model name ('A7670E-LASE' -> no GNSS); True for
    each part when the model is unknown (None, '')."""
    if not model:
        return True, True, True
    m = model.upper()
    return not _lacks(m, _NO_GNSS), not _lacks(m, _NO_VOICE), not _lacks(m, _NO_SMS)


def cch_family(model):
    """True when the module speaks this driver's SSL and HTTP commands (AT+CCH*, AT+HTTP*):
    the A76xx family, and the SIM7600 that shares them (hardware.md §1.7, §1.8), or an unknown
    model (None: everything is tried). The SIM7000/SIM7070/SIM7080 family (a driver built on
    this one) has AT+CA*/AT+SH* instead (hardware.md §1.7 "SIM7080"): False."""
    if not model:
        return True
    m = model.upper()
    for fam in ("SIM700", "SIM707", "SIM708", "SIM709"):
        if fam in m:
            return False
    return True


def parse_model(lines):
    """The model from ATI's lines ('Model: A7670E-FASE', A76-ATM §2.2.7) or AT+CGMM's bare line
    (§2.2.17); None if there is none."""
    for line in lines:
        if line.startswith("Model:"):
            return line[6:].strip() or None
    for line in lines:
        t = line.strip()
        if t and ":" not in t and " " not in t:
            return t
    return None


def _not_open(command, e):
    """A send refused with a bare ERROR: its socket or session is not open (busy)."""
    return SocketError(command, "not open", True) if e.code is None else e


class SocketError(ATError):
    """A socket command failed with the modem's <err> (int, A76-ATM §15.3.2) or <err_info> (text,
    §15.3.1) in `code`. busy: refused at once in the command's own reply (`+CIPOPEN: n,err`,
    `+CIPERROR: err` or `+IP ERROR: ...`, then ERROR): the state of the link or the network
    said no and nothing went on air; else it started and failed (the network, the server, the
    modem's timeout). The text says which: 'AT+CIPOPEN=...: busy 4' / ': failed 4'."""

    def __init__(self, command, code, busy):
        ATError.__init__(self, command, ("busy " if busy else "failed ") + str(code))
        self.code = code
        self.busy = busy


class TlsRefused(SocketError):
    """The TLS handshake failed: the server's certificate chain does not end in the CA this
    watch was provisioned with, or no CA is set (`+CCHOPEN: <s>,15|19`, A76-ATM §19.3.1;
    `+HTTPACTION: 0,715|719`, §16.3.2). Nothing of ours went to that server."""

    tls_refused = True


def csq_percent(rssi):
    """AT+CSQ rssi 0..31 -> 0..100 %; 99 (unknown) -> 0."""
    if rssi < 0 or rssi > 31:
        return 0
    return rssi * 100 // 31


def _body(line):
    """The fields text after '+XXX:'."""
    i = line.find(":")
    return line[i + 1:].strip() if i >= 0 else line.strip()


def _fixed(text, scale):
    """Decimal text -> int in units of 1/scale (scale a power of ten), truncating; '' -> 0."""
    s = text.strip()
    if not s:
        return 0
    neg = s[0] == "-"
    if neg or s[0] == "+":
        s = s[1:]
    whole, _, frac = s.partition(".")
    if not (whole or frac) or (whole and not digits(whole)) or (frac and not digits(frac)):
        raise ValueError("bad number: %r" % text)
    if not whole:
        whole = "0"
    places = len(str(scale)) - 1
    v = int(whole) * scale + (int((frac + "000000000")[:places]) if places else 0)
    return -v if neg else v


def _rdiv(a, b):
    """a / b rounded half away from zero (b > 0)."""
    if a < 0:
        return -((-a + b // 2) // b)
    return (a + b // 2) // b


def _int(text):
    t = text.strip()
    return int(t) if t else 0


def parse_reg(line):
    """stat from '+CEREG: <n>,<stat>[,...]' / '+CREG: <n>,<stat>' (§1.1)."""
    f = _body(line).split(",")
    return int(f[1] if len(f) > 1 else f[0])


def _mdays(y, mo):
    if mo == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if mo in (4, 6, 9, 11) else 31


def parse_cgnssinfo(line, now=None):
    """Fix from a '+CGNSSINFO:' line, None when it carries no fix, ValueError if it is garbage.

    Three layouts exist (hardware.md §1.3). They are told apart by where the N/S field is (the
    E/W field is always two further on):
      index 5: manual layout   mode,GPS,GLONASS,BEIDOU,lat,N/S,...       16 fields
      index 6: "foreign" ASR   mode,GPS,BEIDOU,GLONASS,GALILEO,lat,N/S,... 18 fields (trailing 0)
      index 4: "domestic" ASR  mode,GPS,BEIDOU,lat,N/S,...               16 fields (valid SVs)
    Every field before lat is a satellite count except mode. After E/W all three continue
    date(ddmmyy),UTC(hhmmss.ss),alt(m),speed(knots),course,PDOP,HDOP,VDOP.
    lat is ddmm.mmmm when it has 4+ digits before the dot (the manual's example), otherwise
    decimal degrees (real A7670 firmware); lon follows lat's format.

    None (no fix): every field empty (the manual's 15 commas, a real A7670's 8 commas); mode
    and counts without a position; lat = lon = 0 (LilyGO's parser treats it as invalid, §1.3);
    mode 0 or 1 (the NMEA GSA mode behind it: 1 = fix not available, GNSS app note §3.4).
    (A reply of OK without the line is the caller's no-fix.)
    A fix without a date (A7670M7_V1.11.1, LilyGO-T-A76XX issue #157: mode, counts and date
    empty, `,,,,,<lat>,N,<lon>,E,,112414.00,75.9,,,,,,09`) takes its date from `now` (epoch-2000
    UTC seconds, the wall clock): the instant with the line's time of day nearest to now. With
    now None it cannot be dated and is None.
    ValueError (garbage): a non-number where a number belongs, or a value no receiver reports:
    lat/lon beyond +-90/+-180, alt outside -1000..18000 m or speed above 1000 kn (the CoCom
    limits), course outside 0..360, HDOP above 99.99, a count above 99, an impossible date/time.

    acc (m): the horizontal error the fix stays within ~95% of the time, 2 DRMS = 2 x HDOP x
    UERE with a UERE of 5 m (ASSUMED: a single-frequency L1 receiver with broadcast ionosphere
    corrections has a 1-sigma UERE of about 4-6 m in open sky; multipath in a street canyon
    shows as the larger HDOP), at least 5 m; 50 m when the line has no HDOP (ASSUMED). One
    DRMS would be exceeded by a third of the fixes: the watch's accuracy must cover the error.
    sats: the sum of the satellite counts before lat.
    """
    f = _body(line).split(",")
    for i in range(len(f)):
        f[i] = f[i].strip()
    h = -1
    for i in (5, 6, 4):
        if len(f) > i + 2 and f[i] in ("N", "S") and f[i + 2] in ("E", "W"):
            h = i
            break
    if h < 0:
        for x in f:
            if x and not digits(x):
                raise ValueError("CGNSSINFO layout: %r" % line)
        return None  # the empty no-fix forms (or counts without a position)
    mode = f[0]
    if mode:
        if not digits(mode) or int(mode) > 3:
            raise ValueError("CGNSSINFO mode: %r" % line)
        if int(mode) < 2:
            return None
    sats = 0
    for x in f[1:h - 1]:
        if x:
            if not digits(x) or int(x) > 99:
                raise ValueError("CGNSSINFO count: %r" % line)
            sats += int(x)
    lat_s, lon_s = f[h - 1], f[h + 1]
    if not lat_s or not lon_s:
        if lat_s or lon_s:
            raise ValueError("CGNSSINFO half a position: %r" % line)
        return None
    if len(lat_s.partition(".")[0]) >= 4:
        lat = udeg_from_ddmm(lat_s, f[h])
        lon = udeg_from_ddmm(lon_s, f[h + 2])
    else:
        if not digits(lat_s[:1]) or not digits(lon_s[:1]):
            raise ValueError("CGNSSINFO signed position: %r" % line)  # N/S and E/W carry the sign
        lat = udeg_from_decimal(lat_s)
        lon = udeg_from_decimal(lon_s)
        if f[h] == "S":
            lat = -lat
        if f[h + 2] == "W":
            lon = -lon
    if lat == 0 and lon == 0:
        return None
    if not (-90000000 <= lat <= 90000000 and -180000000 <= lon <= 180000000):
        raise ValueError("CGNSSINFO position out of range: %r" % line)
    rest = f[h + 3:]
    if len(rest) < 8:
        raise ValueError("CGNSSINFO short: %r" % line)
    t = _cgnss_time(rest[0], rest[1], now, line)
    if t is None:
        return None
    alt = _rdiv(_fixed(rest[2], 10), 10)
    knots100 = _fixed(rest[3], 100)
    course10 = _fixed(rest[4], 10)
    hdop = rest[6]
    hdop100 = _fixed(hdop, 100)
    if not (_ALT_MIN <= alt <= _ALT_MAX and 0 <= knots100 <= _KNOTS_MAX * 100
            and 0 <= course10 <= 3600 and 0 <= hdop100 <= 9999):
        raise ValueError("CGNSSINFO value out of range: %r" % line)
    # knots -> 0.1 km/h: 1 kn = 1.852 km/h, so centi-knots * 1852 / 10000
    speed = _rdiv(knots100 * 1852, 10000)
    course = _rdiv(course10, 10) % 360
    acc = _rdiv(hdop100 * _UERE_M * _ACC_SIGMAS, 100) if hdop else _ACC_NO_HDOP
    if acc < _ACC_MIN:
        acc = _ACC_MIN
    return Fix(t, lat, lon, True, alt, speed, course, sats, acc, "gnss")


def _cgnss_time(date, utc, now, line):
    """Epoch-2000 seconds of a +CGNSSINFO date (ddmmyy) and UTC (hhmmss[.ss]); a missing date
    comes from now (None if now is None). ValueError if either is malformed."""
    if not utc:
        if date:
            raise ValueError("CGNSSINFO time: %r" % line)
        return now  # neither: the fix is now (None if the time is unknown)
    whole, dot, frac = utc.partition(".")
    if len(whole) != 6 or not digits(whole) or (dot and frac and not digits(frac)):
        raise ValueError("CGNSSINFO time: %r" % line)
    hh, mi, ss = int(whole[0:2]), int(whole[2:4]), int(whole[4:6])
    if not (hh < 24 and mi < 60 and ss < 61):
        raise ValueError("CGNSSINFO time: %r" % line)
    if not date:
        if now is None:
            return None
        y, mo, d = clock.to_parts(now)[:3]
        t = clock.from_parts(y, mo, d, hh, mi, ss)
        if t - now > 43200:
            t -= 86400
        elif now - t > 43200:
            t += 86400
        return t
    if len(date) != 6 or not digits(date):
        raise ValueError("CGNSSINFO date: %r" % line)
    dd, mo, yy = int(date[0:2]), int(date[2:4]), int(date[4:6])
    if not (1 <= mo <= 12 and 1 <= dd <= _mdays(2000 + yy, mo)):
        raise ValueError("CGNSSINFO date: %r" % line)
    return clock.from_parts(2000 + yy, mo, dd, hh, mi, ss)


def parse_cpsi(line):
    """Cell from '+CPSI:' (hardware.md §1.4), None for NO SERVICE, other systems or an LTE line
    without its cell fields. ValueError if a field the Cell needs is not a number or out of
    range, so nothing odd can reach a frame.

    LTE: SysMode,OpMode,MCC-MNC,TAC(hex),SCellID(dec),PCI,Band,EARFCN,DLBW,ULBW,RSRQ,RSRP,RSSI,
    RSSNR (A76-ATM §4.2.9); the A76xx gives RSRP raw, dBm = raw - 140; Cat-M/NB modules give
    dBm directly (< 0). GSM: GSM,OpMode,MCC-MNC,LAC(hex),CellID(dec),ARFCN,RxLev,...; RxLev as
    dBm if negative, else the 0..63 scale (dBm = rxlev - 110).
    Ranges: MCC and MNC 0..999, LAC/TAC 16 bits, cell id 28 bits (LTE ECI; GSM 16 bits) —
    Traccar reads LAC/CID as signed 32-bit (watch-protocol.md §6). The signal (Cell.rssi, dBm)
    is 0, "unknown", when empty or outside what can be reported: RSRP raw 0..97 or -140..-44
    dBm (3GPP TS 36.133 RSRP_00..RSRP_97), RxLev 0..63 or -120..-40 dBm (ASSUMED bounds round
    TS 45.008's -110..-48). The RSSI field (raw 255 = unknown in the manual's own example,
    4294967296 seen as garbage) is never used.
    """
    f = _body(line).split(",")
    for i in range(len(f)):
        f[i] = f[i].strip()
    sysmode = f[0]
    gsm = sysmode == "GSM"
    if len(f) < 5 or not (sysmode.startswith("LTE") or gsm):
        return None
    mcc_s, sep, mnc_s = f[2].partition("-")
    if not sep or not digits(mcc_s) or not digits(mnc_s) or len(mcc_s) > 3 or len(mnc_s) > 3:
        raise ValueError("CPSI MCC-MNC: %r" % line)
    mcc, mnc = int(mcc_s), int(mnc_s)
    lac_s = f[3]
    if lac_s[:2] in ("0x", "0X"):
        lac_s = lac_s[2:]
    if not lac_s or len(lac_s) > 8:
        raise ValueError("CPSI LAC: %r" % line)
    for c in lac_s:
        if c not in "0123456789abcdefABCDEF":
            raise ValueError("CPSI LAC: %r" % line)
    lac = int(lac_s, 16)
    if not digits(f[4]) or len(f[4]) > 10:
        raise ValueError("CPSI cell id: %r" % line)
    cid = int(f[4])
    if lac >= 0x10000 or cid >= (0x10000 if gsm else 0x10000000):
        raise ValueError("CPSI out of range: %r" % line)
    rssi = 0
    if gsm:
        if len(f) > 6 and f[6]:
            v = _fixed(f[6].split(" ")[0], 1)
            if 0 <= v <= _RXLEV_MAX:
                rssi = v - 110
            elif _GSM_DBM_MIN <= v <= _GSM_DBM_MAX:
                rssi = v
    elif len(f) > 11 and f[11]:
        v = _fixed(f[11], 1)
        if 0 <= v <= _RSRP_RAW_MAX:
            rssi = v - 140
        elif _RSRP_DBM_MIN <= v <= _RSRP_DBM_MAX:
            rssi = v
    return Cell(mcc, mnc, lac, cid, rssi)


def _result(command, line, i):
    """Integer field i of a result URC ('+CIPOPEN: 0,0'); a malformed one is an ATError like
    any other failed command, so the services' OSError handling covers it."""
    try:
        return int(_body(line).split(",")[i])
    except (ValueError, IndexError):
        raise ATError(command, "bad reply: " + line[:40])


def _rxget_len(line):
    """Bytes following '+CIPRXGET: 2,<link>,<read>,<rest>' (§1.7)."""
    return int(line.split(",")[2])


def fields(text):
    """Split at commas outside double quotes; quotes removed ('"26/09/14,17:10:00+08"' is one),
    spaces around a field too (the manual's +CLCC example has one after every comma, §7.2.6)."""
    out = []
    cur = []
    inq = False
    for ch in text:
        if ch == '"':
            inq = not inq
        elif ch == "," and not inq:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


class Sms:
    """One received SMS: index on the SIM (None if routed directly), sender as reported, its
    type of address, the service-centre time stamp text, the data coding scheme and the text."""

    def __init__(self, index, number, ntype, scts, dcs, text):
        self.index = index
        self.number = number
        self.ntype = ntype
        self.scts = scts
        self.dcs = dcs
        self.text = text


def _sms_fields(line):
    """The header of a text-mode SMS with AT+CSDH=1, as [oa, alpha, scts, tooa, fo, pid, dcs,
    sca, tosca, length] whichever of +CMGR (stat first), +CMGL (index, stat first) or +CMT it
    is. ValueError without the detailed fields (CSDH=0: the body cannot be framed)."""
    f = fields(_body(line))
    if line.startswith("+CMGL:"):
        f = f[2:]
    elif line.startswith("+CMGR:"):
        f = f[1:]
    if len(f) < 10:
        raise ValueError("SMS header without length: %r" % line[:60])
    return f


def _hex_body(dcs, fo=0):
    """Is the body shown as hex? 8-bit and UCS2 data, or a user data header (A76-ATM §9.2 <data>)."""
    return bool(fo & 0x40) or smscodec.alphabet(dcs) != smscodec.GSM7


def sms_body_len(line):
    """Bytes of body that follow an SMS header line: <length> characters of GSM/IRA text, or
    two hex digits per octet when the body is shown as hex."""
    f = _sms_fields(line)
    n = int(f[-1])
    if _hex_body(_int(f[6]), _int(f[4])):
        n *= 2
    if n < 0:
        raise ValueError("negative SMS length")
    return n


def parse_sms(line, body, index=None):
    """Sms from a header line and its body bytes. ValueError if the header is malformed."""
    f = _sms_fields(line)
    if line.startswith("+CMGL:"):
        index = int(_body(line).split(",")[0])
    dcs = _int(f[6])
    if _int(f[4]) & 0x40:  # a user data header (a concatenated SMS): shown as the hex it is
        text = smscodec.printable(body)
    else:
        text = smscodec.decode_body(body, dcs)
    return Sms(index, f[0], _int(f[3]), f[2], dcs, text)


def parse_clcc(line):
    """'+CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,"<number>",<type>...]' (A76-ATM §7.2.6) ->
    (id, dir, stat, number, type); ValueError if malformed."""
    f = fields(_body(line))
    if len(f) < 5:
        raise ValueError("CLCC: %r" % line[:60])
    number = f[5] if len(f) > 5 else ""
    ntype = _int(f[6]) if len(f) > 6 else 128
    for c in number:  # as +CLIP: digits and + * # only (found by tests/fuzz: "R" rang as a caller)
        if not ("0" <= c <= "9" or c in "+*#"):
            raise ValueError("CLCC number: %r" % line[:60])
    return int(f[0]), int(f[1]), int(f[2]), number, ntype


def parse_clip(line):
    """'+CLIP: "<number>",<type>,,,"<alpha>",<CLI validity>' (§1.6) -> (number, type); a
    withheld or unavailable number (validity 1/2, or empty) gives ''. ValueError if malformed."""
    body = _body(line)
    if not body.startswith('"'):
        raise ValueError("CLIP: %r" % line[:60])
    f = fields(body)
    if len(f) < 2:
        raise ValueError("CLIP: %r" % line[:60])
    number = f[0]
    ntype = _int(f[1])
    if len(f) > 5 and f[5].strip() in ("1", "2"):
        number = ""
    for c in number:
        if not ("0" <= c <= "9" or c in "+*#"):
            raise ValueError("CLIP number: %r" % line[:60])
    return number, ntype


def dialable(number):
    """Only '+' and digits reach ATD / AT+CMGS: nothing else can end up inside a command."""
    if not number or len(number) > 20:
        return False
    for i, c in enumerate(number):
        if not ("0" <= c <= "9" or (c == "+" and i == 0)):
            return False
    return True


class A76xx:
    def __init__(self, uart, pwrkey, dtr=None, ri=None, pwrkey_active_high=True, poll_ms=10):
        self.at = ATEngine(uart, poll_ms)
        self.pwrkey = pwrkey
        self.dtr = dtr
        self.ri = ri
        # LilyGO drives PWRKEY through an NPN: GPIO high = key pressed (hardware.md §5.2)
        self._key_on = 1 if pwrkey_active_high else 0
        self.wake = None  # ThreadSafeFlag set by the RI IRQ; created by start()
        self.reboots = 0
        self.needs_init = True
        self.net_up = False
        self.links = [False] * _LINKS  # open TCP links
        self.rx_ready = [False] * _LINKS  # "+CIPRXGET: 1,<link>" seen, not yet read
        self.gnss_on = False  # powered (AT+CGNSSPWR=1 answered OK)
        self.gnss_ready = False  # ... and usable: READY came (or the firmware sends none)
        self.gnss_ready_urc = None  # the firmware sends READY: None until AT+CGNSSPWR? told
        self.sim_state = None
        self.reg_stat = None
        self.net_offset_min = None  # the local time's offset the network gave with AT+CCLK
        # the module (ATI, once: the model never changes) and what it has (capabilities())
        self.model = None
        self.has_gnss = True
        self._gnss_refused = 0  # AT+CGNSSPWR? answered ERROR this many times in a row
        self.has_voice = True
        self.has_sms = True
        self._ctzu = False  # AT+CTZU=1 written since this driver started (it is nonvolatile)
        self.net_timeout_ms = _NET_TIMEOUT_MS  # the modem's own NETOPEN/CIPOPEN limit (_slow_net)
        self._net_timeout_new = False  # ... raised since it was last written (the next open writes it)
        # +CIPEVENT: NETWORK CLOSED UNEXPECTEDLY seen: the network library may still be open
        # with no PDP context behind it; net_open() releases it first (A76-ATM §15.4)
        self._net_lost = False
        self._lost_links = []  # links open when it came: closed before AT+NETCLOSE
        self._err_info = None  # '+IP ERROR:' / '+CIPERROR:' line of the running command
        # TLS and HTTP(S): what this module has (has_tls / has_http: the uplink checks before
        # it asks), the SSL service and sessions, the CA set in SSL context 0 since the modem's
        # last boot
        self._has_tls = None  # None: by the model (cch_family); a subclass may set True/False
        self._has_http = None
        self.tls_link = TLS_LINK  # the event link of TLS session 0
        self.tls_links = [False] * _TLS_SESSIONS
        self.tls_ca_name = None
        self._cch = False  # AT+CCHSTART done since the modem's last boot
        self._tls_rx = [bytearray(), bytearray()]  # +CCHRECV data not yet handed over
        self._http = False  # AT+HTTPINIT done since the modem's last boot
        self._http_ssl = False  # AT+HTTPPARA="SSLCFG" set in this HTTP service
        self._http_body = bytearray()
        self.bad_replies = 0  # replies that did not parse (counted, not raised)
        self.ri_count = 0
        self.events = EventQueue(16)
        self.phone_ready = False  # phone_setup() done since the last boot
        self.phone_wanted = False  # phone_setup() was asked for: redo it whenever it is lost
        # Light sleeps of the ESP32 so far (the board counts them): UART bytes that arrive
        # during one are lost, so an RI edge after a sleep means URCs may be missing; an RI
        # edge while awake means they were read as they came, and nothing need be asked.
        self.sleeps = 0
        self._sleeps_seen = 0
        self._calls = {}  # call id -> last +CLCC stat seen
        self._mt = set()  # ids of the calls in _calls that came in (+CLCC <dir> 1)
        self._call0_mt = False  # the call noted as id 0 (dial/answer, before +CLCC names it) is incoming
        self._end_why = None  # the reason an end line gave while calls were up (AT+CLCC says whose)
        self._resync = False  # state must be asked for (a URC was garbled or lost)
        self._booting = False
        self._ready = False
        self._csclk = False
        self._sleep = False
        self._dtr_high = False
        at = self.at
        at.on_reboot(self._urc_reboot)
        at.on_urc("+CIPRXGET: 1,", self._urc_rx)
        at.on_urc("+IPCLOSE:", self._urc_ipclose)
        at.on_urc("+CIPEVENT:", self._urc_cipevent)
        # the info line a refused command gives before its ERROR (A76-ATM §15.2.4, §15.3.1)
        at.on_urc("+IP ERROR:", self._urc_err_info)
        at.on_urc("+CIPERROR:", self._urc_err_info)
        at.on_urc("RING", self._urc_ring)
        at.on_urc("+CLIP:", self._urc_clip)
        at.on_urc("+CLCC:", self._urc_clcc)
        at.on_urc("VOICE CALL: BEGIN", self._urc_begin)
        for text, _ in _DIAL_ENDS:
            at.on_urc(text, self._urc_end)
        at.on_urc("+RXDTMF:", self._urc_dtmf)
        at.on_urc("+CMTI:", self._urc_cmti)
        at.on_urc("+CMT:", self._urc_cmt, sms_body_len)
        at.on_urc("SMS DONE", self._urc_sms_done)
        at.on_urc("+CGNSSPWR: READY", self._urc_gnss_ready)  # before _QUIET's "+CGNSSPWR:"
        # TLS sessions and HTTP (A76-ATM §19.4, §16.4): data lines carry their bytes by length
        at.on_urc("+CCHRECV: DATA,", self._urc_tls_data, _tls_data_len)
        at.on_urc("+CCHEVENT:", self._urc_tls_event)
        at.on_urc("+CCH_PEER_CLOSED:", self._urc_tls_closed)
        at.on_urc("+CCH_RECV_CLOSED:", self._urc_tls_closed)
        at.on_urc("+CCH: CCH STOP", self._urc_tls_stop)
        at.on_urc("+HTTPREAD: ", self._urc_http_data, _http_data_len)
        for p in _QUIET_TLS:
            at.on_urc(p, _ignore)
        for p in _QUIET:
            at.on_urc(p, _ignore)
        at.on_hung = self._hung
        at.before_cmd = self._before_cmd
        at.after_cmd = self._let_sleep

    @property
    def has_tls(self):
        """The SSL client of A76-ATM §19 (AT+CCH*): this module family's (cch_family)."""
        return cch_family(self.model) if self._has_tls is None else self._has_tls

    @has_tls.setter
    def has_tls(self, v):
        self._has_tls = v

    @property
    def has_http(self):
        """The HTTP(S) client of A76-ATM §16 (AT+HTTP*), with the SSL client's contexts."""
        return cch_family(self.model) if self._has_http is None else self._has_http

    @has_http.setter
    def has_http(self, v):
        self._has_http = v

    def start(self):
        """Call inside the running loop: creates `wake` and arms the RI IRQ (soft, falling
        edge: RI idles high and pulses low ~60 ms per URC with AT+CFGRI=1, hardware.md §1.9)."""
        if self.wake is None:
            self.wake = ThreadSafeFlag()
        self.events.start()
        if self.ri is not None:
            self.ri.irq(self._ri_irq, self.ri.IRQ_FALLING)

    def _ri_irq(self, pin):
        # IRQ -> flag -> task (STYLE.md habit 3): no AT traffic here.
        self.ri_count += 1
        if self.wake is not None:
            self.wake.set()

    def _hung(self):
        if not self._booting:  # probes while it boots go unanswered by design
            self.events.put(ev.HUNG)

    # ---- the driver's task: URCs, and the state behind them after an RI wake --------------

    async def run(self):
        """Read URCs when the modem rings (RI), or at least every minute (only what already
        sits in the UART buffer: an AT command keeps a sleeping modem awake ~10 s, §1.9).
        After an RI wake from light sleep, ask for the state (calls, stored SMS, sockets); also
        when a URC was garbled, the queue overflowed or SMS became ready. Never returns."""
        while True:
            rang = True
            try:
                await wait_for_ms(self.wake.wait(), _POLL_MS)
            except asyncio.TimeoutError:
                rang = False
            try:
                await self._drain_ri()
                if self.needs_init or self.at.silent >= self.at.silent_max:
                    continue  # REBOOT / HUNG are queued; the app brings the modem up again
                if self.phone_wanted and not self.phone_ready:
                    await self.phone_setup()
                gap = self.sleeps != self._sleeps_seen
                self._sleeps_seen = self.sleeps
                # a call believed up is checked at the minute's poll too: the ESP32 stays awake
                # during a call, and a call that ended unseen must not keep it awake for ever
                if (rang and gap) or self._resync or self.events.overflow or (self._calls and not rang):
                    await self.resync()
            except ATError as e:
                if e.code not in _NOT_YET:
                    log.event("error", where="modem_events", err=repr(e))
                self._resync = True  # try again at the next wake (or the minute's poll)
            except OSError as e:
                log.event("error", where="modem_events", err=repr(e))

    async def _drain_ri(self):
        """RI pulses (~60 ms per URC, 120 ms per SMS, §1.9) merge when URCs come close
        together, so one falling edge may stand for several: read while RI is low, once after."""
        await self.at.pump()
        ri = self.ri
        if ri is not None:
            for _ in range(50):  # at most ~1 s: a ringing call holds RI low for 5.9 s
                if ri.value():
                    break
                await sleep_ms(_RI_STEP_MS)
                await self.at.pump()
            await self.at.pump()

    async def resync(self):
        """Ask the modem for what its URCs would have said: socket data for every open link,
        the current calls (AT+CLCC) and the SMS on the SIM (AT+CMGL). Events for what is new."""
        self._resync = False
        self.events.overflow = False
        for link in range(_LINKS):
            if self.links[link]:
                self.events.put(ev.DATA, link)
        for s in range(_TLS_SESSIONS):
            if self.tls_links[s]:
                self.events.put(ev.DATA, TLS_LINK + s)
        if not self.phone_ready:
            return
        if self.has_voice:
            seen = []
            for c in await self.calls():
                if self._call_state(*c):
                    seen.append(c[0])
            why = self._end_why or "gone"
            self._end_why = None
            for cid in list(self._calls):
                if cid not in seen:  # it ended while the ESP32 slept, or an end line said so
                    self._ended(cid, why)
        if self.has_sms:
            for i in await self.sms_indexes():
                self.events.put(ev.SMS, i)

    # ---- power ------------------------------------------------------------------------------

    # PWRKEY: released this long, pressed this long, released (LilyGO's sequence, §5.2)
    _KEY_IDLE_MS = _PULSE_MS
    _KEY_MS = _PULSE_MS
    _NO_START = "modem did not start"  # the ATTimeout of a modem that never answers

    async def power_on(self, timeout_ms=30000):
        """PWRKEY pulse, then wait for *ATREADY or an OK to 'AT' (A7670 UART ready after
        ~11 s, hardware.md §5.2), then ATE0, AT+CMEE=2 (text errors), _ri_setup() (AT+CFGRI=1:
        RI pulses on URCs, §1.9), then the set-up. ATTimeout if the modem never answers."""
        self._booting = True
        self._ready = False
        self._sleep = False
        self._csclk = False
        try:
            if self.dtr is not None:
                self.dtr.value(0)  # DTR low keeps the modem awake (LilyGO sequence, §5.2)
                self._dtr_high = False
            key = self.pwrkey
            key.value(1 - self._key_on)
            await sleep_ms(self._KEY_IDLE_MS)
            key.value(self._key_on)
            await sleep_ms(self._KEY_MS)
            key.value(1 - self._key_on)
            deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
            while True:
                await self.at.pump()
                if self._ready:
                    break
                try:
                    await self.at.cmd("AT", _PROBE_MS)
                    break  # already on, or booted without a ready URC
                except ATReset:
                    break  # the ready URC arrived during the probe
                except ATTimeout:
                    pass  # silent while booting: the probe itself took _PROBE_MS
                except ATError:
                    await sleep_ms(_PROBE_MS)
                if clock.ticks_diff(deadline, clock.ticks_ms()) <= 0:
                    raise ATTimeout(110, self._NO_START)
            await self.at.cmd("ATE0")
            self.at.echo_off = True
            await self.at.cmd("AT+CMEE=2")
            await self._ri_setup()
        finally:
            self._booting = False
        self._forget(False)
        await self._setup()
        self.needs_init = False

    async def _ri_setup(self):
        """RI pulses on URCs (AT+CFGRI=1, §1.9): the ESP32's wake from light sleep."""
        await self.at.cmd("AT+CFGRI=1")

    async def _setup(self):
        """After each power-on: the model (once), network time on (once), the modem's socket
        timeouts (each boot). A setting the firmware refuses (ERROR) is logged, not fatal; no
        answer at all (ATTimeout) fails the power-on like any other command."""
        if self.model is None:
            await self._detect_model()
        if not self._ctzu:
            # NITZ updates the clock only with CTZU=1, factory value 0; nonvolatile (A76-ATM
            # §4.2.12): once per ESP32 boot is plenty
            try:
                await self.at.cmd("AT+CTZU=1", 9000)
                self._ctzu = True
            except ATError as e:
                log.event("error", where="modem_setup", err=repr(e))
        await self._set_net_timeout()

    async def _set_net_timeout(self):
        """AT+CIPTIMEOUT at net_timeout_ms for NETOPEN, CIPOPEN and CIPSEND (NO_SAVE, §15.2.12)."""
        try:
            t = self.net_timeout_ms
            await self.at.cmd("AT+CIPTIMEOUT=%d,%d,%d" % (t, t, t), 9000)
            self._net_timeout_new = False
        except ATError as e:
            log.event("error", where="modem_setup", err=repr(e))

    def _slow_net(self, code):
        """The modem's limit passed (<err> 10): a network that answers NETOPEN or CIPOPEN more
        slowly than that every time would never be reached (a slow PDP activation, DNS or
        handshake on a roaming SIM or a congested cell). The limit doubles, up to the manual's
        120 s, for the next attempt (the uplink's backoff spaces them), and stays for as long as
        the ESP32 runs."""
        if code != ERR_TIMEOUT or self.net_timeout_ms >= _NET_TIMEOUT_MAX_MS:
            return
        t = self.net_timeout_ms * 2
        self.net_timeout_ms = t if t < _NET_TIMEOUT_MAX_MS else _NET_TIMEOUT_MAX_MS
        log.event("net_timeout", ms=self.net_timeout_ms)
        self._net_timeout_new = True

    async def _detect_model(self):
        """ATI's 'Model:' line (A76-ATM §2.2.7), else AT+CGMM (§2.2.17); sets the capability
        flags once and logs them."""
        model = None
        for command in ("ATI", "AT+CGMM"):
            try:
                model = parse_model(await self.at.cmd(command, 9000))
            except ATError:
                model = None
            if model:
                break
        if not model:
            self.bad_replies += 1
            log.event("error", where="modem_model", err="no model from ATI / AT+CGMM")
            return  # asked again at the next power-on; meanwhile everything is tried
        self.model = model
        if "SIM70" in model.upper():  # a T-SIM7000G flashed with this board's module
            log.event("error", where="board", err="the modem is a %s: flash boards.lilygo_t_sim7000g" % model)
        self.has_gnss, self.has_voice, self.has_sms = capabilities(model)
        log.event("modem_model", model=model, gnss=self.has_gnss, voice=self.has_voice,
                  sms=self.has_sms)

    async def power_off(self):
        """AT+CPOF -> OK: the module deregisters and shuts down (A76-ATM §3.2.5). True when it
        did (a guardian's POWEROFF; boards whose modem differs override this)."""
        try:
            await self.at.cmd("AT+CPOF", 9000)
            return True
        except OSError:
            return False

    async def power_cycle(self, timeout_ms=30000):
        """For a modem that stopped answering: a long PWRKEY press powers it off whatever it
        is doing (>= 2.5 s, hardware.md §5.2), then the 2 s it needs before it may be powered
        again, then power_on()."""
        self.pwrkey.value(self._key_on)
        await sleep_ms(_OFF_PRESS_MS)
        self.pwrkey.value(1 - self._key_on)
        self._forget(True)
        self.needs_init = True
        self.at.silent = 0
        await sleep_ms(_OFF_WAIT_MS)
        await self.power_on(timeout_ms)

    # ---- sleep (DTR) ------------------------------------------------------------------------

    async def sleep(self, enable):
        """Let the modem sleep while idle (AT+CSCLK=1 + DTR high, §1.9). Returns False without
        a DTR pin. While enabled every command first pulls DTR low and waits 50 ms, because a
        sleeping modem drops UART input; DTR goes high again after the command."""
        if self.dtr is None:
            return False
        if enable:
            if not self._csclk:
                await self.at.cmd("AT+CSCLK=1")
                self._csclk = True
            self._sleep = True
            self._let_sleep()
        else:
            self._sleep = False
            self.dtr.value(0)
            self._dtr_high = False
        return True

    async def _before_cmd(self):
        # inside the AT lock: an error info line from now on is this command's
        self._err_info = None
        await self._wake_modem()

    async def _wake_modem(self):
        if self._dtr_high:
            self.dtr.value(0)
            self._dtr_high = False
            await sleep_ms(_DTR_WAKE_MS)

    def _let_sleep(self):
        if self._sleep and not self._dtr_high:
            self.dtr.value(1)
            self._dtr_high = True

    # ---- SIM, registration, identity --------------------------------------------------------

    async def wait_sim(self, timeout_ms=20000):
        """True once AT+CPIN? says READY. Early '+CME ERROR: 13' (SIM failure) / SIM busy after
        boot are retried (§1.1); False at the timeout. The last state is in sim_state."""
        deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
        while True:
            try:
                lines = await self.at.cmd("AT+CPIN?", 5000, "+CPIN:")
                if lines:
                    self.sim_state = _body(lines[0])
                    if self.sim_state == "READY":
                        return True
            except ATError as e:
                self.sim_state = e.code
            if clock.ticks_diff(deadline, clock.ticks_ms()) <= 0:
                return False
            await sleep_ms(1000)

    async def wait_registered(self, timeout_ms=180000, period_ms=2000):
        """Poll AT+CEREG? (LTE) then AT+CREG? (CS); stat 1 (home) or 5 (roaming) is registered
        (§1.1). Returns False at the timeout."""
        deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
        while True:
            for command, prefix in (("AT+CEREG?", "+CEREG:"), ("AT+CREG?", "+CREG:")):
                try:
                    lines = await self.at.cmd(command, 5000, prefix)
                    if lines:
                        self.reg_stat = parse_reg(lines[0])
                        if self.reg_stat == 1 or self.reg_stat == 5:
                            return True
                except ATError:
                    pass
                except ValueError:
                    self.bad_replies += 1
            if clock.ticks_diff(deadline, clock.ticks_ms()) <= 0:
                return False
            await sleep_ms(period_ms)

    async def csq(self):
        """'+CSQ: <rssi>,<ber>' -> rssi 0..31, 99 = unknown (§1.1)."""
        lines = await self.at.cmd("AT+CSQ", 5000, "+CSQ:")
        try:
            return int(_body(lines[0]).split(",")[0])
        except (IndexError, ValueError):
            self.bad_replies += 1
            return 99

    async def imei(self):
        """AT+CGSN answers the bare IMEI line (§1.1); None if no such line."""
        for line in await self.at.cmd("AT+CGSN"):
            if line.isdigit() and 14 <= len(line) <= 17:
                return line
        self.bad_replies += 1
        return None

    async def iccid(self):
        """AT+CICCID -> '+ICCID: 8986...' (A76xx, §1.1)."""
        lines = await self.at.cmd("AT+CICCID", 5000, "+ICCID:")
        return _body(lines[0]) if lines else None

    async def network_time(self):
        """UTC epoch-2000 seconds from AT+CCLK? (network time, A76-ATM §3.2.10), None on error or
        when the RTC is unset (year outside 2024..2069: the reset defaults read as 1970/1980 ->
        70, 80). The A76xx's clock counts from 70/01/01 at every boot until NITZ sets it, which
        it does only with AT+CTZU=1 (§4.2.12, _setup()) and some time after registration, or
        never where the operator sends none: callers ask again later (firmware/app.py)."""
        try:
            lines = await self.at.cmd("AT+CCLK?", 5000, "+CCLK:")
        except ATError:
            return None
        if not lines:
            return None
        body = _body(lines[0]).strip('"')
        try:
            yy = int(body[0:2])
            # the zone: local offset in quarter hours, daylight saving included (A76-ATM AT+CCLK)
            t, zone = clock.parse_cclk_zone(body)
        except ValueError:
            self.bad_replies += 1
            return None
        if yy < _YEAR_MIN or yy > _YEAR_MAX:
            return None
        if zone is not None:
            self.net_offset_min = zone
        return t

    # ---- GNSS (§1.3) --------------------------------------------------------------------------

    async def _gnss_detect(self):
        """Which GNSS firmware: AT+CGNSSPWR? answers four fields (power, AP_Flash, dynamic load,
        loader; three before 7/3/23) on firmware from 27/9/21 on, which also sends READY, and
        the power field alone before (A76-ATM §24.2.1 notes 3, 4, 6). Sets gnss_ready_urc once;
        returns the power field (1: GNSS is on, e.g. left on before an ESP32-only reset), None
        if the reply did not tell (then asked again next time)."""
        for line in await self.at.cmd("AT+CGNSSPWR?", 5000, "+CGNSSPWR:"):
            f = _body(line).split(",")
            if not digits(f[0].strip()):
                continue  # '+CGNSSPWR: READY!' can arrive inside this reply
            self.gnss_ready_urc = len(f) > 1
            return int(f[0])
        self.bad_replies += 1
        return None

    async def gnss_power(self, on, keep=True, timeout_ms=_GNSS_READY_MS):
        """on: power GNSS on; True once it can be used, False if READY never came (logged).

        Firmware that sends READY (gnss_ready_urc, detected once with AT+CGNSSPWR?) loads the
        GNSS firmware at every power-on: '+CGNSSPWR: READY!' ~9 s after the OK, and no GNSS
        command is valid before it (A76-ATM §24.2.1, §24.2.12, §24.2.15; GNSS dynamic loading
        app note §3.4). keep: AT+CGNSSPWR=1,1 loads the positioning data the last
        AT+CGNSSPWR=0,1 stored (AP_Flash fast hot start, §24.2.1); AT+CGNSSPWR=1 starts without
        it. Older firmware has neither READY nor AP_Flash (its =1,1 is an ERROR): plain =1,
        usable at once. READY is awaited outside the AT lock, like +NETOPEN: other commands
        (an SOS) go on meanwhile.
        off: AT+CGNSSPWR=0,1 stores the positioning data for a hot start next time (keep and
        the firmware has AP_Flash), AT+CGNSSPWR=0 drops it. Returns None."""
        if not self.has_gnss:  # a variant without a receiver: nothing to power (_setup)
            return False if on else None
        if not on:
            if self.gnss_ready_urc is None:
                try:
                    await self._gnss_detect()
                except ATError:
                    pass  # unknown firmware: the plain form, which every firmware takes
            await self.at.cmd("AT+CGNSSPWR=0,1" if keep and self.gnss_ready_urc else "AT+CGNSSPWR=0")
            self.gnss_on = False
            self.gnss_ready = False
            return None
        if self.gnss_ready_urc is None:
            try:
                pwr = await self._gnss_detect()
            except ATError:
                # Even the read form refused: a module without a receiver whose model the
                # capability table does not know answers every GNSS command so (LilyGO issue
                # #52, an A7670G-LLSE; hardware.md §1.2a). A few times in a row, never one
                # passing, is no passing trouble: it is not asked again until the next boot.
                self._gnss_refused += 1
                if self._gnss_refused >= _GNSS_REFUSED_MAX:
                    self.has_gnss = False
                    log.event("modem_model", model=self.model, gnss=False, voice=self.has_voice,
                              sms=self.has_sms, why="GNSS commands refused")
                raise
            self._gnss_refused = 0
            if pwr == 1 and not self.gnss_on:
                # on, but whether READY came is unknown: start it again to know
                await self.at.cmd("AT+CGNSSPWR=0,1" if keep and self.gnss_ready_urc else "AT+CGNSSPWR=0")
        flash = keep and self.gnss_ready_urc is not False  # unknown: try AP_Flash (ERROR = old)
        if self.gnss_on:
            return self.gnss_ready
        if self.gnss_ready_urc is False:
            await self.at.cmd("AT+CGNSSPWR=1")
            self.gnss_on = True
            self.gnss_ready = True
            return True
        command = "AT+CGNSSPWR=1,1" if flash else "AT+CGNSSPWR=1"
        w = self.at.expect("+CGNSSPWR: READY")
        try:
            try:
                await self.at.cmd(command)
            except ATError:
                if command == "AT+CGNSSPWR=1" or self.gnss_ready_urc is not None:
                    raise
                # detection failed and AP_Flash is refused: firmware before 27/9/21
                self.gnss_ready_urc = False
                await self.at.cmd("AT+CGNSSPWR=1")
                self.gnss_on = True
                self.gnss_ready = True
                return True
            self.gnss_on = True
            self.gnss_ready = False
            try:
                await self.at.wait(w, timeout_ms)
            except ATTimeout:
                log.event("error", where="gnss", err="no +CGNSSPWR: READY! in %d ms" % timeout_ms)
                return False  # powered but unusable (a failed firmware load, app note §4.1)
            self.gnss_ready = True
            return True
        finally:
            self.at.cancel(w)

    def _urc_gnss_ready(self, line):
        if self.gnss_on:
            self.gnss_ready = True  # a READY after gnss_power() gave up waiting

    async def gnss_assist(self, timeout_ms=_AGPS_MS):
        """Assisted GNSS: AT+CAGPS -> OK, then '+AGPS: success.' or '+AGPS: <code>.' (101 socket,
        102 server, 103 connect, 104 write, 105 read; A76-ATM §24.2.15). Needs READY and a data
        connection; the result is awaited outside the AT lock. True on success; False (logged)
        on a failure code, an ERROR or no result in time."""
        if not self.gnss_on or not self.gnss_ready:
            return False
        try:
            line = await self._cmd_urc("AT+CAGPS", "+AGPS:", 9000, timeout_ms)
        except (ATError, ATTimeout) as e:
            log.event("gnss", what="agps", ok=False, err=repr(e))
            return False
        body = _body(line).rstrip(".").strip()
        if body == "success":
            log.event("gnss", what="agps", ok=True)
            return True
        log.event("gnss", what="agps", ok=False, code=body[:12])
        return False

    async def gnss_fix(self):
        """Fix from AT+CGNSSINFO, or None without a fix (also when the modem sends only OK, and
        for a line that is garbage: counted in bad_replies and logged, never raised)."""
        if not self.has_gnss:
            return None
        lines = await self.at.cmd("AT+CGNSSINFO", 5000, "+CGNSSINFO:")
        if not lines:
            return None
        try:
            return parse_cgnssinfo(lines[-1], clock.wall.now())
        except ValueError:
            self.bad_replies += 1
            log.event("error", where="gnss", err="bad reply: " + lines[-1][:60])
            return None

    async def serving_cell(self, urgent=False):
        """Cell from AT+CPSI? (§1.4), None without service, and for a reply that is garbage
        (counted in bad_replies and logged, never raised into the reporter).

        Serving cell only: the A76xx has no documented way to list neighbour cells. AT+CPSI?
        (A76-ATM V1.09 §4.2.9) and AT+CPSITD? (§4.2.10, LTE, 1803S platform) describe the
        serving cell alone; the manual has no AT+CENG (SIM7000/7080 engineering mode,
        hardware.md §1.4), AT+CNETSCAN, AT+CCINFO, AT+CELLLOCK or any other cell list
        (searched: every command in its table of contents)."""
        lines = await self.at.cmd("AT+CPSI?", 5000, "+CPSI:", urgent=urgent)
        if not lines:
            return None
        try:
            return parse_cpsi(lines[0])
        except (ValueError, IndexError):
            self.bad_replies += 1
            log.event("error", where="cpsi", err="bad reply: " + lines[0][:60])
            return None

    # ---- voice and SMS (§1.5, §1.6) ---------------------------------------------------------

    async def phone_setup(self):
        """Caller id, call-state URCs, SMS in text mode with the GSM alphabet, header details
        (the body length) and +CMTI for every SMS stored. Volatile: again after each restart.
        Only the parts the module has (a variant without voice refuses the call commands)."""
        self.phone_wanted = True
        if self.has_voice:
            for command in ("AT+CLIP=1", "AT+CLCC=1"):
                await self._part_cmd(command, "voice")
        if self.has_sms:
            for command in ("AT+CMGF=1", 'AT+CSCS="GSM"', "AT+CSDH=1", "AT+CNMI=2,1,0,0,0"):
                await self._part_cmd(command, "sms")
        self.phone_ready = True
        self._want_resync()  # SMS that came while it was not set up are on the SIM already

    async def _part_cmd(self, command, part):
        """command, part of what the module may lack ("voice", "sms"): a bare ERROR (a command
        the firmware does not know; with AT+CMEE=2 real failures are +CME/+CMS ERROR) means a
        variant without it that ATI did not name: noted once, and the part is not used again."""
        if part == "voice" and not self.has_voice or part == "sms" and not self.has_sms:
            return
        try:
            await self.at.cmd(command)
        except ATError as e:
            if e.code is not None:
                raise
            self._lacking(part, command)

    def _lacking(self, part, command):
        if part == "voice":
            self.has_voice = False
        else:
            self.has_sms = False
        log.event("modem_lacks", part=part, model=self.model, command=command)

    def _voice(self, command):
        """A module without voice is not asked (it would answer ERROR): the same ATError."""
        if not self.has_voice:
            raise ATError(command, "no voice on %s" % self.model)

    @property
    def line_busy(self):
        """A call of ours is up or being set up (active, held, dialing, alerting)."""
        for stat in self._calls.values():
            if stat in (0, 1, 2, 3):
                return True
        return False

    @property
    def in_call(self):
        """A call is being set up, rings or is up. The ESP32 must not light-sleep then: the
        key a guardian presses (+RXDTMF) or the end of the call are URCs that a sleeping ESP32
        loses, and unlike an SMS or a ringing call nothing can be asked for afterwards."""
        return bool(self._calls)

    async def dial(self, number, urgent=False):
        """ATD<number>; (voice: the ';' is mandatory, §1.6). OK means the call is being set
        up; its progress arrives as CALL events. ATError if the modem refuses at once."""
        if not dialable(number):
            raise ValueError("not a dialable number: %r" % number)
        self._voice("ATD")
        # noted before the ATD, until +CLCC names it (or an end clears it): an end line that comes
        # while the ATD is under way (a rejected caller's, A76-ATM §7.2.2) then asks AT+CLCC
        # instead of passing for the late end of a call already over (_urc_end)
        noted = 0 not in self._calls and not any(c not in self._mt for c in self._calls)
        if noted:
            self._calls[0] = ev.CALL_DIALING
            self._call0_mt = False
        try:
            await self.at.cmd("ATD%s;" % number, 20000, urgent=urgent)
        except BaseException:
            if noted:
                self._calls.pop(0, None)
            raise

    async def answer(self, urgent=False):
        """ATA: take the ringing call (OK, then VOICE CALL: BEGIN)."""
        self._voice("ATA")
        await self.at.cmd("ATA", 20000, urgent=urgent)
        if not self._calls:
            self._calls[0] = ev.CALL_ACTIVE
            self._call0_mt = True

    async def hangup(self, urgent=False):
        """AT+CHUP: ends or rejects every call (ATH is ignored unless AT+CVHU=0, §1.6)."""
        self._voice("AT+CHUP")
        await self.at.cmd("AT+CHUP", 20000, urgent=urgent)

    async def calls(self):
        """[(id, dir, stat, number, type)] from AT+CLCC."""
        out = []
        for line in await self.at.cmd("AT+CLCC", 9000, "+CLCC:"):
            try:
                out.append(parse_clcc(line))
            except ValueError:
                self.bad_replies += 1
        return out

    async def sms_indexes(self):
        """Indexes of every SMS on the SIM (AT+CMGL="ALL"), bodies skipped by their length."""
        lines, _ = await self.at.cmd('AT+CMGL="ALL"', 9000, "+CMGL:", "+CMGL:", sms_body_len)
        out = []
        for line in lines:
            try:
                out.append(int(_body(line).split(",")[0]))
            except ValueError:
                self.bad_replies += 1
        return out

    async def sms_read(self, index):
        """Sms at index (AT+CMGR), None if the place is empty or the reply cannot be framed."""
        try:
            lines, data = await self.at.cmd("AT+CMGR=%d" % index, 9000, "+CMGR:", "+CMGR:", sms_body_len)
        except ATError as e:
            if e.code == 321:  # invalid memory index: nothing there
                return None
            raise
        if not lines:
            return None
        try:
            return parse_sms(lines[0], data[:_SMS_MAX], index)
        except (ValueError, IndexError):
            # no detailed header: CSDH is off (a restart nobody saw?); set it up again
            self.bad_replies += 1
            self.phone_ready = False
            self._want_resync()
            return None

    async def sms_delete(self, index):
        await self.at.cmd("AT+CMGD=%d" % index, 9000)

    async def sms_send(self, number, text, urgent=False):
        """Send one SMS (AT+CMGS, text mode): GSM 7-bit when every character is in the basic
        alphabet and it fits 160, else UCS2 (data coding scheme 8 via AT+CSMP, body as hex)
        within 70 characters. Returns the message reference. ValueError if it does not fit."""
        if not dialable(number):
            raise ValueError("not a number: %r" % number)
        if not self.has_sms:
            raise ATError("AT+CMGS", "no SMS on %s" % self.model)
        kind, body = smscodec.encode_sms(text)
        if kind == "ucs2":
            await self.at.cmd("AT+CSMP=17,167,0,8", urgent=urgent)
            body = body.encode()
        try:
            lines = await self.at.send_data('AT+CMGS="%s"' % number, body + b"\x1a", _SMS_SEND_MS,
                                            "+CMGS:", urgent=urgent)
        finally:
            if kind == "ucs2":
                await self.at.cmd("AT+CSMP=17,167,0,0", urgent=urgent)
        try:
            return int(_body(lines[0]))
        except (IndexError, ValueError):
            self.bad_replies += 1
            return -1

    # ---- TCP sockets (§1.7; A76-ATM §15) ----------------------------------------------------

    async def _cmd_urc(self, command, urc, timeout_ms, urc_timeout_ms):
        """command -> OK, then the result URC starting with urc (expected before sending: it
        can arrive in the same read as the OK). Refused at once (that line, or an error info
        line, then ERROR): SocketError(busy=True) with the line's code."""
        w = self.at.expect(urc)
        try:
            try:
                await self.at.cmd(command, timeout_ms)
            except ATError as e:
                raise self._refused(command, e, w.line)
            return await self.at.wait(w, urc_timeout_ms)
        finally:
            self.at.cancel(w)

    def _refused(self, command, e, line=None):
        """The ATError e of a command that answered ERROR, with the reason the modem gave just
        before it: its result line at once (line: '+CIPOPEN: 0,4', A76-ATM §15.2.3 case 3) or an
        '+IP ERROR: <err_info>' / '+CIPERROR: <err>' line (§15.2.1, §15.2.4, §15.3.1) ->
        SocketError(busy=True), the code an int where it is a number. Else e as it is."""
        info = line if line is not None else self._err_info
        if info is None or e.code is not None:
            return e
        body = _body(info)
        last = body.split(",")[-1].strip()
        return SocketError(command, int(last) if digits(last) else body, True)

    def _net_wait(self, timeout_ms):
        """How long to wait for a NETOPEN/CIPOPEN/CIPSEND result: the caller's time, and at least
        the modem's own limit (AT+CIPTIMEOUT) and a margin, so its timeout error is heard."""
        t = self.net_timeout_ms + _NET_MARGIN_MS
        return timeout_ms if timeout_ms > t else t

    def _net_trouble(self, code):
        """A socket failed for the network's sake (<err> 1 network failure, 2 not opened): the
        NETWORK CLOSED URC may have come while the ESP32 slept (UART bytes are lost then), so
        the library is released before the next AT+NETOPEN as if it had been seen."""
        if code == ERR_NETWORK or code == ERR_NOT_OPENED:
            self._net_lost = True
            self.net_up = False

    async def set_apn(self, apn):
        """AT+CGDCONT=1,"IP","<apn>": the packet data context the data connection uses (§1.7).
        Only needed where the network does not hand the SIM's default APN out by itself."""
        await self.at.cmd('AT+CGDCONT=1,"IP","%s"' % apn)

    async def net_open(self, timeout_ms=30000):
        """AT+CIPRXGET=1 (buffer-access receive), AT+NETOPEN -> OK, '+NETOPEN: 0'. An open
        network answers '+IP ERROR: Network is already opened' and ERROR (A76-ATM §15.2.1);
        AT+NETOPEN? -> '+NETOPEN: 1' then counts as success. After NETWORK CLOSED UNEXPECTEDLY
        that answer is a trap, the library open with no PDP context behind it: net_release()
        first (§15.4). SocketError(code=err) when '+NETOPEN: <err>' reports a failure (10: the
        modem's AT+CIPTIMEOUT passed)."""
        if self._net_lost:
            await self.net_release()
        if self._net_timeout_new:
            await self._set_net_timeout()
        try:
            await self.at.cmd("AT+CIPRXGET=1")
        except ATError:
            pass  # refused while the network is open: the mode set earlier stays
        try:
            line = await self._cmd_urc("AT+NETOPEN", "+NETOPEN:", 5000, self._net_wait(timeout_ms))
        except ATError:
            lines = await self.at.cmd("AT+NETOPEN?", 5000, "+NETOPEN:")
            if lines and _body(lines[0]).split(",")[0] == "1":
                self.net_up = True
                return
            raise
        err = _result("AT+NETOPEN", line, 0)  # '+NETOPEN: 1.5' is an OSError, not a ValueError
        if err:
            self._slow_net(err)
            raise SocketError("AT+NETOPEN", err, False)
        self.net_up = True

    async def net_release(self):
        """After '+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY' (A76-ATM §15.4: "user's application
        needs to check and close all opened sockets, and then uses AT+NETCLOSE to release the
        network library if AT+NETOPEN? shows the network library is still opened"): AT+CIPCLOSE
        for each link that was open (errors of links already gone ignored), then AT+NETCLOSE
        -> OK, '+NETCLOSE: 0' (§15.2.2) if AT+NETOPEN? says 1. SocketError if the close fails
        (tried again at the next net_open())."""
        links, self._lost_links = self._lost_links, []
        for link in links:
            await self.tcp_close(link)
        self.net_up = False
        lines = await self.at.cmd("AT+NETOPEN?", 5000, "+NETOPEN:")
        if lines and _body(lines[0]).split(",")[0] == "1":
            try:
                line = await self._cmd_urc("AT+NETCLOSE", "+NETCLOSE:", 5000, self._net_wait(0))
            except SocketError:
                line = None  # '+NETCLOSE: <err>' then ERROR: not open after all (§15.2.2 case 5)
            err = _result("AT+NETCLOSE", line, 0) if line is not None else 0
            if err:
                raise SocketError("AT+NETCLOSE", err, False)
        self._net_lost = False

    async def tcp_open(self, link, host, port, timeout_ms=60000):
        """AT+CIPOPEN=<link>,"TCP","<host>",<port> -> OK, then '+CIPOPEN: <link>,<err>'.
        SocketError: busy when refused at once ('+CIPOPEN: <link>,<err>' then ERROR: the link
        is held or the network not open, A76-ATM §15.2.3 case 3), failed when the connect
        failed (err 4 refused, 11 DNS, 10 the modem's timeout: §15.3.2).

        The link is closed first, whatever this driver believes: the modem refuses CIPOPEN on
        a link it still holds (error 4), forever, and it can hold one this driver does not know
        of: a close that timed out while it was mute, or an ESP32-only reset (watchdog, crash)
        that left the modem powered with its sockets open."""
        try:
            await self.tcp_close(link)
        except OSError:
            pass  # nothing to close, or no answer to it: the open tells
        if self._net_timeout_new:
            await self._set_net_timeout()
        command = 'AT+CIPOPEN=%d,"TCP","%s",%d' % (link, host, port)
        try:
            line = await self._cmd_urc(command, "+CIPOPEN: %d," % link, 5000, self._net_wait(timeout_ms))
        except SocketError as e:
            self._net_trouble(e.code)
            raise
        err = _result(command, line, 1)
        if err:
            self._net_trouble(err)
            self._slow_net(err)
            raise SocketError(command, err, False)
        self.links[link] = True
        self.rx_ready[link] = False

    async def tcp_send(self, link, data, timeout_ms=30000, urgent=False):
        """AT+CIPSEND=<link>,<len> -> '>' -> data -> OK, then '+CIPSEND: <link>,<req>,<sent>'.
        Sends in pieces of at most 1460 bytes. SocketError: busy when refused at once
        ('+CIPERROR: <err>' then ERROR: the link is not open, A76-ATM §15.2.4 case 3), failed
        when the modem sent less than asked (<sent> -1: the connection is gone)."""

        def check(command, line, n):
            req = _result(command, line, 1)
            sent = _result(command, line, 2)
            if sent < 0 or sent < req:
                raise SocketError(command, sent, False)

        await self._send_pieces(data, _SEND_MAX, "AT+CIPSEND=%d,%%d" % link, "+CIPSEND: %d," % link,
                                timeout_ms, urgent, self._refused, self._net_wait(timeout_ms), check)

    async def _send_pieces(self, data, most, command, urc, timeout_ms, urgent, refused, result_ms,
                           check, on_missing=None):
        """What every send of this driver (and its subclasses) shares: data in pieces of at most
        `most` bytes, each `command % n` -> '>' -> the piece -> OK, then the result URC starting
        `urc` within result_ms. refused(command, e): the exception for a piece the modem refused
        at once; check(command, line, n) raises for a piece that failed; on_missing(): a result
        URC that never came is counted and passed on as None (default: ATTimeout)."""
        mv = memoryview(data)
        off = 0
        while off < len(data):
            n = len(data) - off
            if n > most:
                n = most
            cmd = command % n
            w = self.at.expect(urc)
            try:
                try:
                    await self.at.send_data(cmd, mv[off:off + n], timeout_ms, urgent=urgent)
                except ATError as e:
                    raise refused(cmd, e)
                try:
                    line = await self.at.wait(w, result_ms)
                except ATTimeout:
                    if on_missing is None:
                        raise
                    on_missing()
                    line = None
            finally:
                self.at.cancel(w)
            check(cmd, line, n)
            off += n

    async def tcp_recv(self, link, timeout_ms=10000):
        """Everything the modem buffered for link: AT+CIPRXGET=2,<link>,1460 ->
        '+CIPRXGET: 2,<link>,<read>,<rest>' + <read> raw bytes + OK, repeated while rest > 0.
        b'' when nothing is buffered: '+IP ERROR: No data' then ERROR (A76-ATM §15.2.5; the
        TCPIP app note shows it for a link never opened too), or a bare ERROR. SocketError for
        any other reason the modem gives."""
        self.rx_ready[link] = False
        out = b""
        prefix = "+CIPRXGET: 2,"
        for _ in range(_RECV_CHUNKS):
            command = "AT+CIPRXGET=2,%d,%d" % (link, _RECV_MAX)
            try:
                lines, data = await self.at.cmd(command, timeout_ms, prefix, prefix, _rxget_len)
            except ATError as e:
                e = self._refused(command, e)
                if out or not isinstance(e, SocketError) or e.code == "No data":
                    return out
                raise e
            out += data
            rest = 0
            if lines:
                try:
                    rest = int(lines[-1].split(",")[3])
                except (IndexError, ValueError):
                    self.bad_replies += 1
            if rest <= 0 or not data:
                return out
        # More is waiting than one call should hold in RAM (a server streaming faster than the
        # UART): hand this much over and come back for the rest.
        self.rx_ready[link] = True
        self.events.put(ev.DATA, link)
        return out

    async def tcp_close(self, link, timeout_ms=10000):
        """AT+CIPCLOSE=<link> -> OK, then '+CIPCLOSE: <link>,<err>'. Errors from a link that
        is already closed ('+CIPCLOSE: <link>,<err>' then ERROR, A76-ATM §15.2.6 case 5) are
        ignored; the link counts as closed afterwards."""
        try:
            await self._cmd_urc("AT+CIPCLOSE=%d" % link, "+CIPCLOSE: %d," % link, 5000, timeout_ms)
        except ATError:
            pass
        finally:
            self.links[link] = False
            self.rx_ready[link] = False

    # ---- TLS sessions (A76-ATM §19; A76-SSL §3.3) ------------------------------------------

    async def tls_setup(self, name, pem, stale_prefix=None):
        """The CA `name` (a .pem file name, 5..108 characters) with the PEM bytes `pem` as the
        server root of SSL context 0. The module keeps certificates on its own flash: stored
        with AT+CCERTDOWN (`>`, the bytes, OK; §19.2.2) only when AT+CCERTLIST (§19.2.3) does
        not list it; files starting with stale_prefix that are not `name` (an older CA of
        ours) are deleted (AT+CCERTDELE, §19.2.4). Then AT+CSSLCFG (§19.2.1): TLS 1.2 only
        (<sslversion> 3: no downgrade; the record overhead the simulator counts is TLS 1.2's),
        <authmode> 1 (server authentication against the CA), that CA, SNI on (a front serving
        several names picks the right certificate), and a negotiation limit below our waits.
        <ignorelocaltime> stays 1 (the default): the module's clock is unset until network
        time comes, and a handshake refused for it would keep reports queued for no reason.
        The PEM is never logged; the event says only that a CA went into the module."""
        if len(pem) > _CERT_MAX or not pem:
            raise ValueError("CA: 1..%d bytes, not %d" % (_CERT_MAX, len(pem)))
        lines = await self.at.cmd("AT+CCERTLIST", 9000, "+CCERTLIST:")
        names = [fields(_body(line))[0] for line in lines]
        if name not in names:
            if stale_prefix:
                for old in names:
                    if old.startswith(stale_prefix):
                        try:
                            await self.at.cmd('AT+CCERTDELE="%s"' % old, 9000)
                        except ATError as e:
                            log.event("error", where="tls_ca", err=repr(e))
            await self.at.send_data('AT+CCERTDOWN="%s",%d' % (name, len(pem)), pem, 20000)
            log.event("tls_ca", stored=name, bytes=len(pem))
        c = _TLS_CTX
        for command in ('AT+CSSLCFG="sslversion",%d,3' % c, 'AT+CSSLCFG="authmode",%d,1' % c,
                        'AT+CSSLCFG="cacert",%d,"%s"' % (c, name), 'AT+CSSLCFG="enableSNI",%d,1' % c,
                        'AT+CSSLCFG="negotiatetime",%d,%d' % (c, _TLS_NEGOTIATE_S)):
            await self.at.cmd(command, 9000)
        self.tls_ca_name = name

    async def _tls_start(self, timeout_ms):
        """AT+CCHSET=1,1 (report each send's result; cache received data and announce it,
        §19.2.5: before AT+CCHSTART), then AT+CCHSTART -> OK, '+CCHSTART: 0' (§19.2.7). A
        service still running from before an ESP32-only reset refuses both: stopped and
        started again (AT+CCHSTOP -> OK, '+CCHSTOP: 0', §19.2.8)."""
        for attempt in (0, 1):
            try:
                await self.at.cmd("AT+CCHSET=1,1", 9000)
                line = await self._cmd_urc("AT+CCHSTART", "+CCHSTART:", 9000, self._net_wait(timeout_ms))
            except ATError:
                if attempt:
                    raise
                try:
                    await self._cmd_urc("AT+CCHSTOP", "+CCHSTOP:", 9000, 9000)
                except ATError:
                    pass
                self._tls_gone(True)
                continue
            err = _result("AT+CCHSTART", line, 0)
            if err:
                raise SocketError("AT+CCHSTART", err, False)
            self._cch = True
            return

    async def tls_open(self, session, host, port, timeout_ms=60000):
        """A TLS connection to host:port on session 0..1, checked against SSL context 0
        (tls_setup() first): AT+CCHSSLCFG=<s>,0 (cleared by a failed open and by a close,
        §19.2.10), AT+CCHOPEN=<s>,"<host>",<port>,2 -> OK, '+CCHOPEN: <s>,<err>' (§19.2.12).
        TlsRefused for err 15 (handshake: the certificate is not the CA's) and 19 (no
        certificate set); SocketError for the rest (§19.3.1: 13 DNS, 14 connect, 17 no
        network ...). The session is closed first, whatever this driver believes (an
        ESP32-only reset may have left it open in the module)."""
        if not self._cch:
            await self._tls_start(timeout_ms)
        try:
            await self.tls_close(session)
        except OSError:
            pass
        command = 'AT+CCHOPEN=%d,"%s",%d,2' % (session, host, port)
        try:
            await self.at.cmd("AT+CCHSSLCFG=%d,%d" % (session, _TLS_CTX), 9000)
            line = await self._cmd_urc(command, "+CCHOPEN: %d," % session, 9000, self._net_wait(timeout_ms))
        except ATError as e:
            if isinstance(e, ATTimeout) or isinstance(e, ATReset):
                raise
            self._cch = False  # refused at once: the service may have stopped unseen
            raise
        err = _result(command, line, 1)
        if err == _TLS_HANDSHAKE or err == _TLS_NO_CERT:
            raise TlsRefused(command, err, False)
        if err:
            raise SocketError(command, err, False)
        self.tls_links[session] = True
        self._tls_rx[session] = bytearray()

    async def tls_send(self, session, data, timeout_ms=30000, urgent=False):
        """AT+CCHSEND=<s>,<len> -> '>' -> data -> OK, then '+CCHSEND: <s>,<err>' (AT+CCHSET=1,
        §19.2.5, §19.2.14), in pieces of at most 1460 bytes. SocketError when refused at once
        (the session is not open) or when err != 0."""

        def check(command, line, n):
            err = _result(command, line, 1)
            if err:
                raise SocketError(command, err, False)

        await self._send_pieces(data, _TLS_SEND_MAX, "AT+CCHSEND=%d,%%d" % session,
                                "+CCHSEND: %d," % session, timeout_ms, urgent, _not_open,
                                self._net_wait(timeout_ms), check)

    async def tls_recv(self, session, timeout_ms=10000):
        """What the module cached for the session: AT+CCHRECV=<s>,1460 -> OK, then
        '+CCHRECV: DATA,<s>,<len>' + <len> bytes (one or more), then '+CCHRECV: <s>,0'
        (§19.2.15). b'' when nothing is cached (the module answers '+CCHRECV: <s>,<err>' and
        ERROR). A full read may leave more behind: a DATA event comes back for it."""
        w = self.at.expect("+CCHRECV: %d," % session)
        try:
            try:
                await self.at.cmd("AT+CCHRECV=%d,%d" % (session, _TLS_RECV_MAX), timeout_ms)
                await self.at.wait(w, timeout_ms)
            except ATError as e:
                if isinstance(e, ATTimeout) or isinstance(e, ATReset):
                    raise
        finally:
            self.at.cancel(w)
        data = bytes(self._tls_rx[session])
        self._tls_rx[session] = bytearray()
        if len(data) >= _TLS_RECV_MAX:
            self.events.put(ev.DATA, TLS_LINK + session)
        return data

    async def tls_close(self, session, timeout_ms=10000):
        """AT+CCHCLOSE=<s> -> OK, '+CCHCLOSE: <s>,0' (§19.2.13); a session that is not open
        answers ERROR, ignored. It counts as closed afterwards."""
        try:
            await self._cmd_urc("AT+CCHCLOSE=%d" % session, "+CCHCLOSE: %d," % session, 5000, timeout_ms)
        except ATError:
            pass
        finally:
            self.tls_links[session] = False

    # ---- HTTP(S) (A76-ATM §16; HTTP(S) app note §3) ---------------------------------------

    async def _http_start(self):
        """AT+HTTPINIT (§16.2.1) and the service's timeouts, below the driver's waits. A service
        left running by an ESP32-only reset refuses a second init: AT+HTTPTERM first."""
        try:
            await self.at.cmd("AT+HTTPINIT", 9000)
        except ATError as e:
            if isinstance(e, ATTimeout) or isinstance(e, ATReset):
                raise
            try:
                await self.at.cmd("AT+HTTPTERM", 9000)
            except ATError:
                pass
            await self.at.cmd("AT+HTTPINIT", 9000)
        await self.at.cmd('AT+HTTPPARA="CONNECTTO",%d' % _HTTP_CONNECT_S, 9000)
        await self.at.cmd('AT+HTTPPARA="RECVTO",%d' % _HTTP_RECV_S, 9000)
        self._http = True
        self._http_ssl = False

    async def http_get(self, url, ssl=False, timeout_ms=60000, urgent=False):
        """GET url (http://host:port/path?query; the caller makes it safe inside quotes):
        AT+HTTPPARA="URL",... then AT+HTTPACTION=0 -> OK, '+HTTPACTION: 0,<status>,<len>'
        (§16.2.4); a 200's body (at most 2048 bytes) with AT+HTTPREAD=0,<len> (§16.2.6).
        Returns (status, body). ssl: an https url, checked by SSL context 0 (tls_setup()
        first; AT+HTTPPARA="SSLCFG",0). TlsRefused for 715/719, SocketError for the module's
        own errors (600-604, 701-719: §16.3)."""
        if not self._http:
            await self._http_start()
        if ssl and not self._http_ssl:
            await self.at.cmd('AT+HTTPPARA="SSLCFG",%d' % _TLS_CTX, 9000, urgent=urgent)
            self._http_ssl = True
        await self.at.cmd('AT+HTTPPARA="URL","%s"' % url, 9000, urgent=urgent)
        command = "AT+HTTPACTION=0"
        w = self.at.expect("+HTTPACTION: 0,")
        try:
            try:
                await self.at.cmd(command, 9000, urgent=urgent)
            except ATError as e:
                if not isinstance(e, ATTimeout) and not isinstance(e, ATReset):
                    self._http = False  # refused: the service may be gone (init again)
                raise
            wait = (_HTTP_CONNECT_S + _HTTP_RECV_S) * 1000 + _NET_MARGIN_MS
            line = await self.at.wait(w, wait if wait > timeout_ms else timeout_ms)
        finally:
            self.at.cancel(w)
        status = _result(command, line, 1)
        n = _result(command, line, 2)
        if status in _HTTP_TLS_ERRS:
            raise TlsRefused(command, status, False)
        if status >= 600:
            raise SocketError(command, status, False)
        body = b""
        if status == 200 and n > 0:
            body = await self._http_read(n if n < _HTTP_BODY_MAX else _HTTP_BODY_MAX, urgent)
        return status, body

    async def _http_read(self, n, urgent=False):
        """AT+HTTPREAD=0,<n> -> OK, '+HTTPREAD: <k>' + k bytes ..., '+HTTPREAD: 0' (§16.2.6)."""
        self._http_body = bytearray()
        w = self.at.expect("+HTTPREAD: 0")
        try:
            await self.at.cmd("AT+HTTPREAD=0,%d" % n, 9000, urgent=urgent)
            await self.at.wait(w, 9000)
        finally:
            self.at.cancel(w)
        body = bytes(self._http_body)
        self._http_body = bytearray()
        return body

    async def http_term(self):
        """AT+HTTPTERM (§16.2.2): the HTTP service and its connection closed; errors ignored."""
        try:
            await self.at.cmd("AT+HTTPTERM", 9000)
        except ATError:
            pass
        self._http = False
        self._http_ssl = False

    # ---- URC handlers (run inside the AT reader) --------------------------------------------

    def _urc_rx(self, line):
        try:
            link = int(line.split(",")[1])
        except (ValueError, IndexError):
            self._garbled()  # data may wait on a link: the resync asks every open one
            return
        if 0 <= link < _LINKS:
            self.rx_ready[link] = True
            self.events.put(ev.DATA, link)

    def _garbled(self):
        """A URC too garbled to say which link (found by tests/fuzz: '+IPCLOSE: ,1'): counted,
        and the state behind it asked again (the resync reads every open link)."""
        self.bad_replies += 1
        self._want_resync()

    def _urc_ipclose(self, line):
        # '+IPCLOSE: <link>,<reason>' 0 local, 1 remote, 2 send timeout (§1.2)
        try:
            link = int(_body(line).split(",")[0])
        except ValueError:
            self._garbled()
            return
        if 0 <= link < _LINKS:
            self.links[link] = False
            self.events.put(ev.CLOSED, link)

    def _urc_cipevent(self, line):
        if "NETWORK CLOSED" in line:
            # the network library may stay open without its PDP context: the next net_open()
            # closes these links and sends AT+NETCLOSE first (A76-ATM §15.4)
            self._net_lost = True
            for link in range(_LINKS):
                if self.links[link] and link not in self._lost_links:
                    self._lost_links.append(link)
            self._closed_all(True)

    def _urc_tls_data(self, line, data):
        # '+CCHRECV: DATA,<s>,<len>' + the bytes (§19.2.15): kept for tls_recv(), bounded
        s = _session(line, 1)
        if data is None or s is None:
            self.bad_replies += 1
            return
        buf = self._tls_rx[s]
        if len(buf) + len(data) > _TLS_RX_MAX:
            self.bad_replies += 1  # a server streaming faster than we read: the uplink's bounds
            return
        buf.extend(data)  # read in answer to AT+CCHRECV (manual receive): no event here

    def _urc_tls_event(self, line):
        # '+CCHEVENT: <s>,RECV EVENT': the module cached data for the session (§19.4)
        s = _session(line, 0)
        if s is not None and "RECV" in line:
            self.events.put(ev.DATA, TLS_LINK + s)

    def _urc_tls_closed(self, line):
        # '+CCH_PEER_CLOSED: <s>' (the server closed), '+CCH_RECV_CLOSED: <s>,<err>' (§19.4)
        s = _session(line, 0)
        if s is not None:
            self.tls_links[s] = False
            self.events.put(ev.CLOSED, TLS_LINK + s)

    def _urc_tls_stop(self, line):
        # '+CCH: CCH STOP': the SSL service stopped for a network error (§19.4)
        self._cch = False
        self._tls_gone(True)

    def _urc_http_data(self, line, data):
        # '+HTTPREAD: <k>' + k bytes of a body being read (§16.2.6); '+HTTPREAD: 0' ends it
        if data is None:
            self.bad_replies += 1
        elif len(self._http_body) + len(data) <= _HTTP_BODY_MAX:
            self._http_body.extend(data)

    def _urc_err_info(self, line):
        self._err_info = line  # read by _refused() when the command's ERROR follows

    def _urc_reboot(self, line):
        if self._booting:
            self._ready = True
            return
        self.reboots += 1
        self.needs_init = True
        self._forget(True)
        self.events.put(ev.REBOOT)
        if self.wake is not None:
            self.wake.set()

    def _urc_ring(self, line):
        # RING comes before +CLIP; if the +CLIP is lost the state is asked for (AT+CLCC)
        if not self._calls:
            self._want_resync()

    def _urc_clip(self, line):
        try:
            number, ntype = parse_clip(line)
        except ValueError:
            self.bad_replies += 1
            self._want_resync()  # AT+CLCC tells the number again
            return
        self.events.put(ev.RING, number, ntype)

    def _urc_clcc(self, line):
        try:
            self._call_state(*parse_clcc(line))
        except ValueError:
            self.bad_replies += 1

    def _call_state(self, cid, mt, stat, number, ntype):
        """A call's state from +CLCC (URC or reply): events for what changed. True while the
        call exists. An incoming call's end says "incoming" (the SOS, dialling by then, must not
        take a stranger's rejected call for its own: its end comes as a URC after the
        rejection, and the router may hand it over after the next ATD)."""
        old = self._calls.get(cid)
        if old is None and 0 in self._calls and bool(mt) == self._call0_mt:
            old = self._calls.pop(0)  # the call dial()/answer() noted, now with its id (ids start at 1)
        if mt:
            self._mt.add(cid)
        if stat == ev.CALL_ENDED:
            if old is not None:
                self._ended(cid, "end")
            self._mt.discard(cid)
            return False
        self._calls[cid] = stat
        if stat == old:
            return True
        # stat 5, a call waiting behind ours (if the network has call waiting on), makes no
        # event: it is left to ring out, as rejecting it with AT+CHUP would end our call too
        if mt and stat == ev.CALL_INCOMING:  # type 128: restricted (withheld)
            self.events.put(ev.RING, number if ntype != 128 else "", ntype)
        elif stat in (ev.CALL_ACTIVE, ev.CALL_ALERTING):
            self.events.put(ev.CALL, stat, None)
        return True

    def _urc_begin(self, line):
        self.events.put(ev.CALL, ev.CALL_ACTIVE, None)

    def _urc_end(self, line):
        why = "end"
        for text, reason in _DIAL_ENDS:
            if line.startswith(text):
                why = reason
        if not self._calls:
            self.events.put(ev.CALL, ev.CALL_ENDED, why)  # the late end of a call already over
            return
        # Which call ended, the line does not say: AT+CHUP reports one per call it ended (A76-ATM
        # §7.2.2), and a rejected caller's may come after the next ATD, when the call dialled
        # is up. AT+CLCC says which are gone (resync); they end with this reason.
        self._end_why = why
        self._want_resync()

    def _ended(self, cid, why):
        """Call cid is over: forgotten, and a CALL_ENDED ("incoming" for a call that came in)."""
        self._calls.pop(cid, None)
        mt = cid in self._mt or (cid == 0 and self._call0_mt)
        self._mt.discard(cid)
        self.events.put(ev.CALL, ev.CALL_ENDED, "incoming" if mt else why)

    def _urc_dtmf(self, line):
        key = _body(line)[:1]
        if key and key in "0123456789*#ABCD":
            self.events.put(ev.DTMF, key)
        else:
            self.bad_replies += 1

    def _urc_cmti(self, line):
        # '+CMTI: "SM",<index>' (§1.5)
        try:
            self.events.put(ev.SMS, int(fields(_body(line))[1]))
        except (ValueError, IndexError):
            self.bad_replies += 1
            self._want_resync()  # AT+CMGL lists it

    def _urc_cmt(self, line, data):
        # '+CMT: ...,<length>' + body: an SMS routed past the SIM store (AT+CNMI mt=2)
        if data is None:
            self.bad_replies += 1
            return
        try:
            self.events.put(ev.SMS, parse_sms(line, data[:_SMS_MAX]))
        except (ValueError, IndexError):
            self.bad_replies += 1

    def _urc_sms_done(self, line):
        # the SIM's SMS part is ready (§1.2): what arrived before is on the SIM
        self._want_resync()

    def _want_resync(self):
        self._resync = True
        if self.wake is not None:
            self.wake.set()

    def _forget(self, notify):
        """The modem restarted (or is being restarted): its sockets, network, GNSS, calls and
        settings are gone. notify: tell the services (a CLOSED per socket, CALL_ENDED for a call
        they believe up: an SOS waiting on a ringing call must not wait for its timeout)."""
        self._closed_all(notify)
        # the SSL and HTTP services and SSL context 0 are gone too (the CA file stays on the
        # module's flash)
        self._cch = False
        self.tls_ca_name = None
        self._http = False
        self._http_ssl = False
        self._net_lost = False  # a restart closes the network library too
        self._lost_links = []
        self.gnss_on = self.gnss_ready = False
        self._csclk = False  # CSCLK is back at its default after a restart
        self.phone_ready = False  # every setting of phone_setup() is gone
        self._mt = set()
        self._end_why = None
        if self._calls:
            self._calls = {}
            if notify:
                self.events.put(ev.CALL, ev.CALL_ENDED, "reboot")

    def _closed_all(self, notify):
        self.net_up = False
        for link in range(_LINKS):
            if self.links[link]:
                self.links[link] = False
                if notify:
                    self.events.put(ev.CLOSED, link)
            self.rx_ready[link] = False
        self._tls_gone(notify)

    def _tls_gone(self, notify):
        """Every TLS session is gone (a restart, the network, the SSL service stopped)."""
        for s in range(_TLS_SESSIONS):
            if self.tls_links[s]:
                self.tls_links[s] = False
                if notify:
                    self.events.put(ev.CLOSED, TLS_LINK + s)


def _ignore(line):
    pass


def _session(line, i):
    """The TLS session number in field i of a CCH line, or None."""
    try:
        s = int(_body(line).split(",")[i])
    except (ValueError, IndexError):
        return None
    return s if 0 <= s < _TLS_SESSIONS else None


def _tls_data_len(line):
    """Bytes following '+CCHRECV: DATA,<s>,<len>' (A76-ATM §19.2.15)."""
    return int(line.split(",")[2])


def _http_data_len(line):
    """Bytes following '+HTTPREAD: <len>' (A76-ATM §16.2.6; 0 ends the body)."""
    return int(_body(line))

