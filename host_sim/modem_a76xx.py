"""SIMCom A76xx (A7670) AT-command emulator: the modem on the other side of the fake UART.

Wiring (host_sim/fakes/machine.py): `WIRING.attach_uart(tx, rx, emu)`; the fake UART calls
`emu.on_uart(uart)` when it is constructed and `emu.on_host_write(bytes)` for each write; the
emulator answers with `uart.feed(bytes)` on virtual time (`vt.after`). Pins:
`emu.attach_pins(pwrkey=WIRING.pin(4), dtr=WIRING.pin(25), ri=WIRING.pin(33))`.

Wire formats follow ../shared/docs/reference/hardware.md §1 byte for byte (sections cited at
each command). Where the reference is silent the choice is marked ASSUMED.

Choices and assumptions:
* Power (§5.2): a PWRKEY press (ESP32 GPIO high = key pressed, LilyGO NPN) of >= 50 ms while
  off powers on; it is measured between the rising and the falling edge on virtual time.
  `*ATREADY: 1` comes BOOT_MS (A7670 Ton(uart) 11.1 s) after the press began; `+CPIN: READY`,
  `SMS DONE`, `PB DONE` follow (§1.2). A press >= 2.5 s while on powers off. A pin that is
  already high when attached counts as pressed since then. Bytes sent while off or booting are
  dropped (counted in `dropped_bytes`, like bytes dropped asleep or muted).
* Every boot restores the defaults: echo on (§1.0), CMEE=1, CFGRI=0, CSCLK=0, push-mode sockets,
  GNSS off, network closed, AT+CIPTIMEOUT 120 s each (NO_SAVE, A76-ATM §15.2.12), the clock unset;
  AT+CTZU (nonvolatile, §4.2.12) and the SIM's SMS store stay.
* CMEE defaults to 1 (numeric): the A7670 log in §1.1 shows `+CME ERROR: 13` from a host that
  had not set CMEE. Unknown commands and syntax errors are always plain `ERROR`.
* Network time (A76-ATM §4.2.12 AT+CTZU, §3.2.10 AT+CCLK). AT+CCLK? counts up from
  `70/01/01,00:00:00+00` since boot until network time sets the clock (an A7680C, same family,
  reads "70/01/01,00:14:01+00" unsynchronised; third-party driver comment): firmware must reject
  year 70. The clock is set only by NITZ and only while AT+CTZU is 1, whose factory value is 0
  and which is nonvolatile (AUTO_SAVE: it survives boots and power cuts here; constructor or
  scenario option "ctzu" gives the value the module comes with). NITZ arrives NITZ_MS (8 s,
  ASSUMED) after each registration; with the option "nitz": "never" the operator sends none and
  the clock is never set. A NITZ that came while CTZU was 0 is not applied later (ASSUMED). The
  clock is lost at every boot (ASSUMED). Once set, its zone is world.tz_offset_at(now): with the
  scenario's "tz_rule" it changes at the daylight-saving instant itself, as if the network sent
  NITZ then (§4.2.12 note 2: with time and zone from the network both are updated) (ASSUMED:
  real networks may send it later, at the next attach). No *PSUTTZ / +CTZV URCs (AT+CTZR stays
  0, §4.2.13).
* Variants (hardware.md §1.2a, LilyGO's "Modem differences" table): option "model" (default
  A7670E-FASE, one of MODELS) answers ATI, AT+SIMCOMATI and AT+CGMM; a model without GNSS
  answers ERROR to every GNSS command, even the test forms (LilyGO issue #52, an A7670G-LLSE);
  without voice ATD, ATA and the call commands (+CLIP, +CLCC, +CVHU, +CHUP) answer ERROR and
  nobody can call it; without SMS the SMS commands answer ERROR and texts to it are lost
  (ASSUMED, harsh). Options "gnss", "voice", "sms" (true/false) override the table.
* CSQ from RSRP: RSSI ~ RSRP + 25 dB (5 MHz carrier), CSQ = (RSSI + 113) / 2 (§1.1) (ASSUMED).
* GNSS (§1.3; A76-ATM §24.2.1 AT+CGNSSPWR, §24.2.12 AT+CGNSSINFO, §24.2.15 AT+CAGPS; GNSS
  dynamic loading app note "GNSS-DL"; GNSS app note "GNSS-AN"). Scenario options, read from the
  scenario's "modem" keys, else its "device" keys, unless given to the constructor:
    gnss_firmware  "new" (default) | "old". "new": firmware from 27/9/21 on (§24.2.1 notes 3, 4):
                   `AT+CGNSSPWR?` -> `+CGNSSPWR: <pwr>,<AP_Flash>,<dynamic_load>,<loader>`; every
                   AT+CGNSSPWR=1 that powers GNSS on loads its firmware: `+CGNSSPWR: READY!`
                   GNSS_LOAD_MS 9 s later, on every power-on (GNSS-DL §3.2 step 4 and §3.4: the
                   loading runs during each GNSS power-on, ~9 s; §24.2.1 note 2). "old": before
                   27/9/21: the read answers `+CGNSSPWR: <pwr>` alone, any second parameter
                   (AT+CGNSSPWR=1,1) is an ERROR, no READY ever, usable at once after =1 (its
                   AT+CAGPS too, ASSUMED). Without AP_Flash every power-on is a cold start.
    gnss_ttff      "slow" (default: harsher) | "typical" | "fast": the time-to-first-fix figures
                   of GNSS_TTFF and the AGPS download time of AGPS_MS.
  Until READY the receiver does nothing: AT+CAGPS answers ERROR (§24.2.15 "valid after READY");
  AT+CGNSSINFO answers the no-fix line of the variant (ASSUMED: the manual only says it is valid
  after READY), as it does with GNSS off. AT+CGNSSPWR=1 while on: OK, no new load, no READY
  (ASSUMED). The <dynamic_load> parameter does not shorten the load (ASSUMED: harsher).
  Start kinds, from the receiver's data when its fix search starts, the later of READY and the sky
  opening (world.sky_since): hot when its last fix is at most HOT_WINDOW_MS 2 h old (GNSS-AN §5.1:
  hot = "less than two hours from the last location", warm beyond), warm up to WARM_WINDOW_MS 4 h
  (GPS ephemeris validity, GNSS-DL §4.6), cold beyond or with no data; then the fix comes the
  GNSS_TTFF time of the kind later. The data lives in the GNSS chip while it is powered; AT+CGNSSPWR
  =0,1 stores it in AP_Flash and =1,1 loads it again (§24.2.1); plain =0 drops it and plain =1 starts
  empty (a cold start). AP_Flash survives modem restarts (ASSUMED: it is flash). AT+CGPSCOLD drops
  the data and restarts the search.
  Assistance: AT+CAGPS -> OK, then `+AGPS: success.` AGPS_MS later, or `+AGPS: 101.` (open socket
  unsuccessfully) AGPS_FAIL_MS later without an open data connection (AT+NETOPEN done, registered,
  coverage: ASSUMED harsher than a PDP context alone), `+AGPS: 105.` (read failed) if it is lost
  during the download. Each success counts in `agps_downloads` and AGPS_BYTES in `agps_bytes` and
  keeps the radio active. For AGPS_VALID_MS 2 h after it (ASSUMED: BDS ephemeris is valid 2 h and
  GNSS-DL §4.6 recommends updating hourly) a search is "assisted": its fix comes the assisted
  GNSS_TTFF after the later of its start and the download, when that is sooner than without.
  The assistance is part of the chip's data (kept and lost as above). For tests and the runner:
  gnss_plan() -> (kind, ms of the first fix) of the search under way; gnss_store is AP_Flash.
* Sockets (§1.7; A76-ATM §15). Refused at once, in the command's own reply then ERROR
  (§15.2.3 case 3, §15.2.4 case 3): `+CIPOPEN: <link>,2` network not opened, `,1` network
  half-open (below), `,4` link in use; `+IP ERROR: Invalid parameter` a link above 9 (case 2);
  AT+CIPSEND on a link not open `+CIPERROR: 4` (2 with the network not open, 3 a bad length;
  the codes third-party drivers of SIMCom modules act on, ASSUMED). Failed after OK (`+CIPOPEN:
  <link>,<err>`): 1 no network/coverage, 4 refused (server down, nothing listening, server said
  no), 10 the CIPOPEN limit of AT+CIPTIMEOUT passed (§15.3.2 "Timeout", ASSUMED), 11 DNS. A send
  whose link went during data entry: OK then `+CIPSEND: <link>,<len>,-1` (§15.2.4 <cnfSendLength>
  -1, ASSUMED). AT+CIPRXGET=2 with nothing buffered, or on a link not open: `+IP ERROR: No data`
  then ERROR (§15.2.5; TCPIP app note §3 example). Data bytes after the CIPSEND prompt are not
  echoed. After `+IPCLOSE` the unread data stays readable until AT+CIPCLOSE or a new AT+CIPOPEN
  on that link (ASSUMED). Coverage loss: `+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY`, every link
  gone, the server's connection objects get close() (if they have one); the network library
  stays open without its PDP context (half-open, §15.4: the application must close its sockets
  and AT+NETCLOSE "if AT+NETOPEN? shows the network library is still opened"): AT+NETOPEN? says
  1, AT+NETOPEN answers `+IP ERROR: Network is already opened` and ERROR (§15.2.1), AT+CIPOPEN
  `+CIPOPEN: <link>,1` and ERROR, until AT+NETCLOSE (OK, `+NETCLOSE: 0`).
  AT+CIPTIMEOUT (§15.2.12; NO_SAVE, default 120000 ms each) limits AT+NETOPEN and AT+CIPOPEN:
  options "netopen_ms" and "cipopen_ms" make the network take that long to answer them (a slow
  PDP activation, a slow handshake; else 300-800 ms and 100-300 ms); beyond its limit the modem
  answers `+NETOPEN: 10` / `+CIPOPEN: <link>,10` at the limit and drops the attempt (ASSUMED).
  Sends are local to the module and never slow.
  The server side: world.connect(host, port, peer, send, close) -> conn; uplink bytes go to
  conn.receive(data); a device-side close calls conn.close() if present. send(data) returns the
  bytes still waiting in the server's socket: a link holds at most RX_WINDOW unread bytes (on
  their way or buffered for AT+CIPRXGET: the TCP window it advertises, ASSUMED), the rest waits
  at the server, off the air, until the host reads (TCP flow control, RFC 793 §3.7).
* Bytes on air (`air_up`, `air_down`: what the operator counts, issue 8), IPv4 + TCP with the
  timestamp option as the usual stacks negotiate it: every segment carries TCPIP_HDR 52 bytes
  (IPv4 20, RFC 791 §3.1; TCP 20, RFC 793 §3.1; timestamps 10 + 2 NOP, RFC 7323 §3), and a
  segment carries at most SEG_DATA 1448 payload bytes (MSS 1460 for a 1500-byte MTU less the 12
  of options, RFC 6691 §2). A connect is a SYN up, a SYN-ACK down (SYN_BYTES 60 each: MSS,
  SACK-permitted, timestamps, window scale, RFC 793 §3.4, RFC 2018 §2, RFC 7323 §2) and an ACK
  up; a refused one a SYN and a RST (40). A close is the closer's FIN, the other side's FIN+ACK
  and the last ACK. Received data is acked by a pure ACK for every two segments, or DELACK_MS
  after a lone one, unless data going the other way carries the ACK first (delayed ACK, RFC
  1122 §4.2.3.2); a window that opens again after it was full is a window update (RFC 1122
  §4.2.3.3). A host name costs a DNS lookup at every CIPOPEN (no cache, ASSUMED): the query and
  its answer with one A record over UDP/IPv4 (28 bytes of headers; RFC 1035 §4.1, RFC 768). An
  AGPS download counts as one TCP exchange of AGPS_REQUEST up and AGPS_BYTES down. Not counted:
  retransmissions (the emulated network loses nothing), zero-window probes, TCP keepalives (off),
  LTE's own headers below IP, SMS and calls (not packet data).
* TLS, the SSL service (A76-ATM §19; SSL app note "A76-SSL" §3), modelled at the record level
  with no cryptography. Certificate files (AT+CCERTDOWN / CCERTLIST / CCERTDELE, §19.2.2-4) live
  on the module's flash (`certs`: kept across boots and power cuts); SSL contexts 0-9 (AT+CSSLCFG,
  §19.2.1, its defaults), AT+CCHSET (only before AT+CCHSTART, else ERROR: ASSUMED), the service
  (AT+CCHSTART / CCHSTOP: a second start is ERROR, ASSUMED; it needs registration, not
  AT+NETOPEN) and the sessions 0-1 are lost at every boot (no parameter is saved, ASSUMED).
  AT+CCHOPEN=<s>,"<host>",<port>[,<type>] (type 2 TLS, 1 plain) uses the context set with
  AT+CCHSSLCFG, else the one numbered like the session (§19.2.10 NOTE); after OK comes
  `+CCHOPEN: <s>,<err>` (§19.3.1): 17 no network, 13 DNS, 14 nobody accepts, 15 handshake, 19
  no certificate set, 9 the network went while connecting. The handshake is a full TLS 1.2 one
  (RFC 5246 §7.3, no resumption: ASSUMED harsher): the server's connection object answers
  tls_hello(sni) with the DER of its chain's root and the bytes of its Certificate message
  (host_sim/traccar.py TlsFront); with <authmode> 1 or 2 the root must equal the DER of the
  context's "cacert" file (15 otherwise: the module sends a fatal unknown_ca alert and closes,
  the front counts it), a context without a stored file fails with 19, one set to an older
  version than TLS 1.2 with 15; a server without TLS never answers the ClientHello: 15 after
  <negotiatetime>. Bytes on air: each flight of the handshake with its record headers
  (TLS_CLIENT_HELLO ... TLS_SERVER_FINISH, ASSUMED sizes; ~4 KB with a two-certificate chain),
  then every write as records of at most 2^14 bytes with TLS_RECORD_OVERHEAD 29 bytes each
  (AES-GCM: header 5, RFC 5246 §6.2.1; explicit nonce 8 and tag 16, RFC 5288 §3), and a
  close_notify each way (31 bytes sealed, §7.2.1) before the FINs. AT+CCHSEND (1-2048 bytes,
  `>` then OK, `+CCHSEND: <s>,0` with <report_send_result> 1; a session gone during data entry:
  `+CCHSEND: <s>,4`, ASSUMED). Received data: with <recv_mode> 1 it is cached (the link's
  window bounds it, as a TCP link's) and announced by `+CCHEVENT: <s>,RECV EVENT` when the cache
  was empty (ASSUMED: not at every packet); AT+CCHRECV=<s>[,<max>] answers OK, then the data in
  `+CCHRECV: DATA,<s>,<len>` chunks of 1024 (the manual's example) and `+CCHRECV: <s>,0`; with
  nothing cached `+CCHRECV: <s>,11` and ERROR (the <err> ASSUMED). With <recv_mode> 0 each
  arrival is `+CCHRECV: DATA,<s>,<len>` + the bytes at once. The server's close:
  `+CCH_PEER_CLOSED: <s>` (the cache stays readable until AT+CCHCLOSE, §19.2.15 NOTE); a lost
  network: `+CCH: CCH STOP` and every session gone (ASSUMED). AT+CCHMODE=1 (transparent) is not
  emulated (ERROR).
* HTTP(S) (A76-ATM §16; HTTP(S) app note §3). AT+HTTPINIT needs registration (ERROR otherwise,
  and for a second init without AT+HTTPTERM: ASSUMED); AT+HTTPPARA takes "URL" (http:// or
  https://, else ERROR), "CONNECTTO" 20-120, "RECVTO" 2-120, "SSLCFG" 0-9, "READMODE",
  "CONTENT", "ACCEPT", "USERDATA"; AT+HTTPACTION=0 (GET; the other methods answer ERROR here,
  ASSUMED) answers OK, then `+HTTPACTION: 0,<status>,<datalen>` once the server's answer is
  whole (Content-Length), or an <errcode> (§16.3.2): 717 no network, 713 DNS, 714 nobody
  accepts, 715 handshake, 719 CA missed, 709 the network went, 704 the server closed first, 705
  no whole answer within RECVTO. The request is `GET <path?query> HTTP/1.1` with Host and
  Accept headers (and USERDATA's) (ASSUMED: the manual lists none). The connection stays up
  between actions while the server keeps it and the URL names the same server (HTTP/1.1
  persistent connections, RFC 9112 §9.3; ASSUMED of the module) and closes at AT+HTTPTERM;
  `Connection: close` or the server's close gives `+HTTP_PEER_CLOSED` (as the app note shows);
  a lost network `+HTTP_NONET_EVENT`. https runs the handshake above with the context of
  "SSLCFG". AT+HTTPREAD=[<off>,]<size> answers OK, then `+HTTPREAD: <k>` + k bytes and
  `+HTTPREAD: 0`; the body stays cached until the next action (§16.2.6 NOTE); AT+HTTPHEAD gives
  the header text.
* Sleep (§1.9): with AT+CSCLK=1 the module sleeps once DTR is high and the UART (both
  directions) has been idle SLEEP_IDLE_MS 15 s: A76-SLEEP §2 says "about 10 to 20 seconds" from
  working to sleep; the middle, 5 s harsher than the 10 s used before (the constructor's
  sleep_idle_ms, or the scenario's "modem"/"device" key, sets either end). Asleep, host bytes are
  dropped; DTR low wakes it in WAKE_MS. CSCLK=2: sleeps when idle whatever DTR is; the first bytes
  sent wake it and are lost. A URC wakes it (RI pulse, output, idle timer restarted) (ASSUMED).
  It never falls asleep while a call exists, a command's result is pending (AT+CMGS) or the radio
  is connected (active or its tail, see Energy): the module sleeps only when idle, "no data
  transmission, no audio playing, no other AT command running" (A76-SLEEP §2.3); nor while its
  GNSS is powered (LilyGO's bench photo of a T-A7670X with GNSS on shows 72 mA for the whole
  board against 2 mA for a SIM7670G board running the same sketch, hardware.md §3.2 list: the
  A7670 does not sleep while its GNSS runs). Once GNSS is off the idle timer counts as usual.
* RI: idle high; with AT+CFGRI=1 every URC pulls it low for 60 ms, an SMS URC (+CMTI, +CMT) for
  RI_SMS_MS 120 ms (the A76-ATM §10.2.10 <SMS_time> default). With CFGRI=0 neither moves RI: the
  AT manual lists SMS among CFGRI's users, while A76-SLEEP §3.2 says an SMS pulls RI low even with
  CFGRI=0 — the harsher reading is kept. A ringing call holds RI low RING_LOW_MS 5900 ms and high
  100 ms per 6 s RING period whatever AT+CFGRI says (A76-SLEEP §3.2: "always valid"); RI goes and
  stays high when the ringing stops.
* Energy (host_sim/energy.py has the currents): meter.set("modem", off|boot|idle|sleep|tail|
  active|call) on every change. "active" means radio activity, not UART chatter: for ACTIVE_MS
  after registering, NETOPEN, CIPOPEN, CIPSEND, CIPCLOSE, every downlink packet, a text
  received, and from Ctrl-Z until ACTIVE_MS after +CMGS (an AGPS download: its time + ACTIVE_MS).
  After every such burst the link stays RRC-connected for TAIL_MS 10 s, the "tail", until the
  operator's inactivity timer releases it (typically ~10 s, Huang et al. MobiSys 2012,
  hardware.md §3.2 list; ASSUMED for the watch's operator), then "idle" or "sleep": a burst
  within the tail starts a new one. AT commands alone keep it "idle" (awake) — counting them as
  radio time would charge each status poll. A call being set up or ringing (dialing, alerting,
  incoming) is "active" (connected-mode signalling), a call in progress "call", and a call the
  network saw ends with ACTIVE_MS "active" and the tail. Priority: call > active > tail > sleep >
  idle. meter.set("gnss", on|off); meter.set("led", on|off): the board's STATUS LED, lit from
  *ATREADY (STATUS goes high when the module is on, A7670-HD Ton(status) 11.2 s, ~0.1 s after
  Ton(uart)) until power off, asleep or not.
* Latencies come from our own LCG seeded with the IMEI, identical on CPython and MicroPython.

Voice (§1.6; A76-ATM §2.2.1-2.2.3, §7.2.1, §7.2.2, §7.2.6, §7.2.10). One call at a time (call
waiting off, the 27.007 default, ASSUMED): a person calling while a call exists hears busy, the
watch sees nothing (their log says "watch_busy"). The call id is always 1.
* Incoming: RING at once and every RING_PERIOD_MS 6 s (A76-ATM §2.2.2 NOTE), each followed by
  `+CLIP: "<number>",<type>,,,"",0` when AT+CLIP=1 (withheld: `+CLIP: "",128,,,"",1`); the caller
  gives up after its ring_s: NO CARRIER. A person calling a watch that is off, not registered or
  out of coverage reaches nobody ("unreachable"). ATA: OK, ANSWER_MS (150-250 ms, ASSUMED) later
  `VOICE CALL: BEGIN`. ATA without a ringing call: NO CARRIER; with another call: +CME ERROR: 3
  (ASSUMED).
* ATD<number>; : the ';' is mandatory (else ERROR); modifiers I i G g at the end and , T ! W @
  are ignored, digits after P/p (DTMF) dropped (ASSUMED). Another call -> +CME ERROR: 3. No
  network: OK, NO_NET_CALL_MS (1-3 s) later NO CARRIER. Else OK, dialing, ALERT_MS (1.5-3 s,
  ASSUMED) later alerting; the callee's ring cycle is CALLEE_RING_MS 5 s (ASSUMED): "answer" and
  "voicemail" answer after `rings` cycles (VOICE CALL: BEGIN), "busy" gives BUSY BUSY_MS (1-3 s)
  after the dial without alerting (a busy callee is never alerted, ASSUMED), and every
  unanswered call ends with NO ANSWER after the callee's ring_limit_s (default 60 s, ASSUMED;
  numbers nobody has: "no_answer"). Keys the far end presses: `+RXDTMF: <key>`, always on
  (UNVERIFIED: A76-ATM V1.09 documents no DTMF detection at all; a third-party A7682E driver,
  mchobby/micropython-A7682E-modem lib/sim76xx/dtmf.py, takes +RXDTMF without enabling anything,
  and SIM7600 logs show it). Numbers match people exactly.
* Ends: the far end hanging up gives `VOICE CALL: END: <HHMMSS>` and/or NO CARRIER (the manual
  does not say which: constructor option remote_end "both" | "end" | "no_carrier"; an unanswered
  call always gives NO CARRIER). AT+CHUP (and ATH after AT+CVHU=0): OK, then `VOICE CALL: END:
  <HHMMSS>` for every call it ended ("multiple VOICE CALL END may be reported", A76-ATM §7.2.2):
  at once for a call that was answered; for a ringing call (rejected) or a dialing or alerting
  one (cancelled) `VOICE CALL: END: 000000` CHUP_END_MS later (ASSUMED: the network's release;
  harsh, as it can come after the next ATD and the line names no call). Coverage loss or
  AT+CFUN=0/4 ends a call as if the far end hung up (ASSUMED); a modem power cycle drops it
  silently.
* AT+CLCC lines are `+CLCC: 1,<dir>,<stat>,0,0,"<number>",<type>,""`: the empty <alpha> is there
  as in the manual's 4G example (A76-ATM §7.2.6; priority and CLI validity "only in 2G calls").
  That example also shows a space after each comma; SIMCom logs of other modules show none and
  none is sent here (UNVERIFIED). With AT+CLCC=1 every state change is also this URC (dialing 2,
  alerting 3, incoming 4, active 0, disconnect 6), sent after the result strings of the same
  change (RING/+CLIP, VOICE CALL: BEGIN/END, NO CARRIER, BUSY, NO ANSWER) (ASSUMED order).
  Call numbers are never converted to the TE character set (ASSUMED).

SMS (§1.5; A76-ATM §9.2; A76-SMS). Text mode only: in PDU mode AT+CMGR/CMGL/CMGS answer
+CMS ERROR: 304 and a message routed with <mt>=2 is stored as with <mt>=1 (ASSUMED). +CMS ERROR is
always numeric, whatever AT+CMEE (ASSUMED). Until `SMS DONE` the store and sending commands
(CPMS, CMGR, CMGL, CMGD, CMGS) answer +CMS ERROR: 314 (SIM busy, ASSUMED) and nothing is delivered.
* The store is the SIM's ("SM" only; "ME" -> +CMS ERROR: 302, ASSUMED): sms_capacity (40) slots,
  indexes from 1, kept across reboots and power cuts. Received texts go to the lowest free index.
* A person's text: if the watch is off, not registered, out of coverage or (when it must store
  it) its store is full, the network keeps it and retries every SMS_RETRY_MS 10 min (ASSUMED).
  <scts> is when the person sent it (the service centre's stamp), local time with the zone in
  quarter hours like +CCLK. sca "+4790002100" (SMSC, ASSUMED), tosca 145, fo 4, pid 0; tooa
  145 for '+' numbers else 129. Addresses (<oa>, <da>, <sca>) are in the TE character set (UCS2:
  hex), as the manual says. Texts are never split: a 1000-character text is one message.
* Bodies: all characters in the GSM 7-bit default alphabet or its extension table -> dcs 0,
  <length> in septets (an extension character counts 2), shown in the TE charset ("GSM": GSM
  bytes with 0x1B escapes, "IRA": ASCII with '?' for the rest, so <length> exceeds the byte
  count by one per extension character, "UCS2": 4 hex digits a character); otherwise dcs 8,
  uppercase hex of the UTF-16BE octets whatever the charset, <length> in octets. Framing: the
  header line, CRLF, the body, CRLF (`\r\n+CMGR: ...\r\n<body>\r\n\r\nOK\r\n`).
* AT+CMGS="<da>": `\r\n> `, then the text up to Ctrl-Z (0x1A); ESC (0x1B) cancels with OK. Body
  bytes are in the TE charset ("GSM": GSM bytes, so a 0x1B escape cancels and extension
  characters cannot be sent in GSM text mode, ASSUMED) or, with AT+CSMP dcs 8, hex of UTF-16BE.
  A CR in the text stays in it and is answered with another `\r\n> ` (27.005 text entry,
  UNVERIFIED on the A76xx); with echo on the text is echoed. A character the GSM alphabet lacks
  (dcs 0), a byte >= 0x80 in IRA/GSM, bad hex, more than 160 septets or 140 octets, or more than
  MAX_LINE bytes -> +CMS ERROR: 305 (ASSUMED: harsher than a modem that substitutes). Any call
  -> +CMS ERROR: 302 at once (A76-SMS §2; ASSUMED for calls not yet active). No network ->
  +CMS ERROR: 331 after SMS_NO_NET_MS (1-2 s); else +CMGS: <mr> and OK after SMS_SUBMIT_MS
  (1-4 s, ASSUMED), or, one submit in SMS_SLOW_ONE_IN on average (constructor option
  sms_slow_one_in; ASSUMED), after SMS_SUBMIT_SLOW_MS up to the manual's 40 s (A76-ATM §9.2.13
  Max Response Time), so the slow end of the range is modelled too. The SMS centre's draws
  come from a stream of their own (_sms_draws): the n-th text of a run is slow or not whatever
  other commands came before it. mr counts 1, 2 ... 255, 0.
  Input that arrives while the result is pending is dropped (ASSUMED: harsher than a modem that
  queues it).
* AT+CMGD on an empty index: OK (ASSUMED); an index outside 1..capacity: +CMS ERROR: 321.

wire: an optional callback attribute, wire(direction, channel, peer, data) for the runner's
recorder: ("up"|"down", "sms", number, UTF-8 text) and ("up"|"down", "call", number or
"withheld", b"dial" | b"alerting" | b"answer" | b"busy" | b"no answer" | b"hangup" |
b"key <k>" | b"ring" | b"reject").
"""
import binascii

from firmware import clock
from host_sim import phones

OFF_MIN_MS = 2000  # minimum time off before a power-on press counts (hardware.md §5.2)
BOOT_MS = 11100  # PWRKEY press to *ATREADY: A7670 Ton(uart) 11.1 s (hardware.md §5.2)
CPIN_MS = 600  # *ATREADY -> +CPIN: READY (ASSUMED; the logs show them back to back)
SMS_DONE_MS = 2500  # *ATREADY -> SMS DONE (ASSUMED)
PB_DONE_MS = 3000  # *ATREADY -> PB DONE (ASSUMED)
REG_MS = 4000  # *ATREADY -> registered, if there is coverage (ASSUMED: 3-5 s)
REREG_MS = 3000  # coverage back -> registered again (ASSUMED)
PRESS_ON_MS = 50  # Ton: PWRKEY low >= 50 ms powers on (A7670-HD)
PRESS_OFF_MS = 2500  # PWRKEY low >= 2.5 s powers off (A7670-HD)
SLEEP_IDLE_MS = 15000  # idle UART before DTR sleep: "about 10 to 20 s" (§1.9, A76-SLEEP §2)
WAKE_MS = 50  # DTR low -> UART usable (ASSUMED)
GNSS_LOAD_MS = 9000  # every GNSS power-on loads its firmware ~9 s (GNSS-DL §3.2, §3.4; A76-ATM §24.2.1)
# Time to first fix, ms from the later of READY and open sky: (hot, warm, cold, assisted).
# "typical": hot 2 s (§3.3: < 1 s SIM7000/7070 ... 2 s L76K with AGNSS), warm 25 s (ASSUMED),
# cold 32 s (§3.3: SIM7000 cold < 35 s, SIM7070 < 31 s, L76K 30 s), assisted 5 s (ASSUMED; the
# L76K publishes 5.5 s cold with AGNSS, §3.3). "fast" and "slow" are the two ends of the range.
GNSS_TTFF = {
    "fast": (1000, 20000, 28000, 3000),
    "typical": (2000, 25000, 32000, 5000),
    "slow": (5000, 30000, 35000, 10000),
}
HOT_WINDOW_MS = 2 * 3600 * 1000  # hot start within 2 h of the last fix (GNSS-AN §5.1)
WARM_WINDOW_MS = 4 * 3600 * 1000  # warm up to 4 h: GPS ephemeris validity (GNSS-DL §4.6)
AGPS_VALID_MS = 2 * 3600 * 1000  # ASSUMED: BDS ephemeris 2 h, update hourly (GNSS-DL §4.6)
AGPS_MS = {"fast": 2000, "typical": 4000, "slow": 8000}  # ASSUMED download; §24.2.15 max 9000 ms
AGPS_FAIL_MS = 1000  # ASSUMED: +AGPS: 101. when no socket can be opened
AGPS_BYTES = 4096  # ASSUMED ~4 kB of payload per download (ephemeris of ~30 satellites)
AGPS_REQUEST = 200  # ASSUMED bytes of the download's request
AGPS_HOST = "agps.server.example"  # ASSUMED: a name of this length is looked up per download
RX_WINDOW = 16384  # ASSUMED unread bytes a link holds (lwIP's default window is 4 x MSS: harsher)
MSS = 1460  # 1500-byte MTU less 40 bytes of IPv4 and TCP headers (RFC 879, RFC 6691)
TCPIP_HDR = 52  # IPv4 20 (RFC 791) + TCP 20 (RFC 793) + timestamps 10 + 2 NOP (RFC 7323 §3)
SEG_DATA = MSS - 12  # payload per segment with the timestamp option (RFC 6691 §2)
SYN_BYTES = 60  # SYN, SYN-ACK: + MSS 4, SACK-permitted 2, timestamps 10, window scale 3, NOP 1
RST_BYTES = 40  # a RST carries no options
UDP_IP_HDR = 28  # IPv4 20 + UDP 8 (RFC 768)
DELACK_MS = 200  # delayed ACK timer (RFC 1122 §4.2.3.2: < 500 ms; 200 ms is common)
RI_URC_MS = 60  # RI low for a URC (§1.9)
RI_SMS_MS = 120  # RI low for an SMS (§1.9)
ACTIVE_MS = 2000  # radio "active" after each radio operation: set-up, data, ack (ASSUMED)
TAIL_MS = 10000  # then RRC-connected until the inactivity timer: ~10 s (§3.2 list, ASSUMED)
RING_PERIOD_MS = 6000  # RING every six seconds while unanswered (A76-ATM §2.2.2)
RING_LOW_MS = 5900  # RI low 5900 ms, high 100 ms per ring period (§1.9, A76-SLEEP §3.2)
ANSWER_MS = (150, 250)  # ATA -> VOICE CALL: BEGIN, "about 200 ms" (ASSUMED)
ALERT_MS = (1500, 3000)  # ATD -> alerting (ASSUMED)
CALLEE_RING_MS = 5000  # one ring cycle at the callee (ASSUMED)
BUSY_MS = (1000, 3000)  # ATD -> BUSY from a busy callee (ASSUMED)
CHUP_END_MS = 150  # AT+CHUP of a call never answered -> its VOICE CALL: END (ASSUMED, §7.2.2)
NO_NET_CALL_MS = (1000, 3000)  # ATD without network -> NO CARRIER (ASSUMED)
SMS_RETRY_MS = 600000  # the network retries an undelivered text every 10 min (ASSUMED)
SMS_SUBMIT_MS = (1000, 4000)  # Ctrl-Z -> +CMGS, usually (ASSUMED)
SMS_SUBMIT_SLOW_MS = (4000, 40000)  # ... and sometimes up to the 40 s max (A76-ATM §9.2.13)
SMS_SLOW_ONE_IN = 8  # how often a submit is slow (ASSUMED)
SMS_NO_NET_MS = (1000, 2000)  # Ctrl-Z -> +CMS ERROR: 331 without network (ASSUMED)
SMS_MAX_SEPTETS = 160  # one SMS, GSM 7-bit (A76-ATM §9.2.13 NOTE)
SMS_MAX_OCTETS = 140  # one SMS, UCS2
SMSC = "+4790002100"  # service centre address (ASSUMED)
BAUD = 115200  # UART speed: output takes wire time (10 bits a byte)
MAX_LINE = 3071  # A76xx command line buffer (§1.0)
MAX_SEND = 1500  # largest AT+CIPSEND length accepted (ASSUMED)
LINKS = 10  # socket links 0-9
LOCAL_IP = "10.148.0.17"  # what AT+IPADDR reports (the §1.7 example)

# ---- the SSL service (A76-ATM §19) and HTTP(S) (§16); module docstring "TLS", "HTTP" ----
SSL_CONTEXTS = 10  # <ssl_ctx_index> 0..9 (§19.2.1)
CCH_SESSIONS = 2  # <session_id> 0..1 (§19.2.12)
CCH_SEND_MAX = 2048  # AT+CCHSEND <len> 1..2048 (§19.2.14); AT+CCHRECV <max_recv_len> 0..2048
CCH_RECV_CHUNK = 1024  # bytes per '+CCHRECV: DATA' line (the manual's §19.2.15 example)
CERT_MAX = 10240  # AT+CCERTDOWN <len> 1..10240 (§19.2.2)
CCH_NO_DATA = 11  # <err> of AT+CCHRECV with nothing cached: "State error" (§19.3.1, ASSUMED)
CCH_PEER = 4  # <err> "Peer closed": a send whose session went during data entry (ASSUMED)
# <err> of +CCHOPEN (§19.3.1) / <errcode> of +HTTPACTION (§16.3.2): no network, DNS, connect,
# handshake, certificate not set / CA missed
CCH_ERRS = (17, 13, 14, 15, 19)
HTTP_ERRS = (717, 713, 714, 715, 719)
HTTP_NET_LOST = 709  # "Network error": the network went during a request
HTTP_CLOSED = 704  # "Connection closed error": the server closed before its answer was whole
HTTP_TIMEOUT = 705  # "Timeout": no whole answer within RECVTO
# TLS 1.2 at the record level (RFC 5246). Every record of application data with AES-GCM carries
# 29 bytes more than its plaintext: the header 5 (§6.2.1), the explicit nonce 8 and the tag 16
# (RFC 5288 §3, the GenericAEADCipher of §6.2.3.3); at most 2^14 plaintext bytes a record.
TLS_RECORD_OVERHEAD = 29
TLS_RECORD_MAX = 16384
# A full handshake (§7.3; ECDHE_RSA_WITH_AES_128_GCM_SHA256, no session resumption: every
# connect pays it, ASSUMED harsher), each flight with its record headers (ASSUMED sizes):
TLS_CLIENT_HELLO = 240  # random, ~15 suites, SNI, groups, signature algorithms, + 5
TLS_SERVER_HELLO = 95  # ServerHello with its extensions, + 5
TLS_SERVER_KX = 338  # ServerKeyExchange: P-256 point 66, curve 3, RSA-2048 signature 256 + 4 + 4, + 5
TLS_SERVER_DONE = 9  # ServerHelloDone 4, + 5
TLS_CLIENT_FINISH = 126  # ClientKeyExchange 70 + 5, ChangeCipherSpec 1 + 5, Finished 16 sealed (45)
TLS_SERVER_FINISH = 51  # ChangeCipherSpec 6, Finished 45
TLS_ALERT_PLAIN = 7  # a fatal alert in the handshake (unknown_ca, §7.2.2): 2 + 5
TLS_ALERT_SEALED = 31  # close_notify on an open session (§7.2.1): 2 + 29

MODEL = "A7670E-FASE"  # a variant with GNSS (§1.2a)
REVISION = "A7670M7_V1.11.1"  # ASSUMED revision text
# model: (GNSS, voice, SMS), LilyGO's "Modem differences" table (hardware.md §1.2a)
MODELS = {
    "A7670E-FASE": (True, True, True),
    "A7670SA-FASE": (True, True, True),
    "A7670E-LASE": (False, True, True),
    "A7670SA-LASE": (False, True, True),
    "A7670SA-LASC": (False, True, True),
    "A7670G-LLSE": (False, True, True),
    "A7670G-LABE": (False, True, True),
    "A7670E-LNXY-UBL": (False, False, False),
}
_GNSS_CMDS = ("+CGNSSPWR", "+CAGPS", "+CGPSCOLD", "+CGPSWARM", "+CGPSHOT", "+CGNSSMODE", "+CGNSSTST",
              "+CGNSSPORTSWITCH", "+CGNSSINFO", "+CGPSINFO")
_VOICE_CMDS = ("+CLIP", "+CLCC", "+CVHU", "+CHUP")  # and ATD, ATA
_SMS_CMDS = ("+CMGF", "+CSDH", "+CNMI", "+CSMP", "+CSCA", "+CPMS", "+CMGR", "+CMGL", "+CMGD", "+CMGS")
# registered -> network time (NITZ) arrives (ASSUMED). A fixed delay: a draw from the LCG would
# shift every later latency of the run
NITZ_MS = 8000
CIPTIMEOUT_MS = 120000  # AT+CIPTIMEOUT default for NETOPEN, CIPOPEN, CIPSEND (A76-ATM §15.2.12)
ERR_TIMEOUT = 10  # <err> "Timeout" (A76-ATM §15.3.2)

_CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    13: "SIM failure",
    14: "SIM busy",
    30: "no network service",
    50: "incorrect parameters",
    100: "unknown error",
}

# Voice and SMS settings after a boot and after the bare execute command (AT+CLIP, AT+CNMI ...):
# A76-ATM §7.2.10 CLIP, §7.2.6 CLCC, §7.2.1 CVHU, §9.2.3 CMGF, §2.2.20 CSCS, §9.2.7 CSDH, §9.2.9
# CNMI, §9.2.6 CSMP.
_PHONE_DEFAULTS = {"clip": 0, "clcc_n": 0, "cvhu": 1, "cmgf": 0, "cscs": "IRA", "csdh": 0,
                   "cnmi": (2, 1, 0, 0, 0), "csmp": (17, 167, 0, 0)}

_ERROR = -1  # plain ERROR
_PROMPT = -2  # data prompt: enter data mode
_LATER = -3  # the handler schedules its own final result
_NO_CARRIER = -4  # final result NO CARRIER
_CMS = -1000  # _CMS - n: final result +CMS ERROR: n (see _cms)


def _cms(n):
    return _CMS - n


class _Link:
    def __init__(self, n, host, port, kind="cip", tls=False):
        self.n = n
        self.host = host
        self.ip = None
        self.port = port
        self.kind = kind  # "cip" a TCP link, "cch" an SSL-service session, "http" the HTTP service's
        self.tls = tls  # bytes on air carry TLS records (TLS_RECORD_OVERHEAD each)
        self.state = "opening"  # -> "open" -> "closed" (by the server; data still readable)
        self.conn = None
        self.rx = bytearray()
        self.notified = False  # +CIPRXGET: 1 sent and not read yet
        self.up_free = 0  # network FIFOs: packets keep their order
        self.down_free = 0
        self.backlog = bytearray()  # written by the server, waiting for the window (not on air)
        self.inflight = 0  # bytes on their way down, not yet in rx
        self.blocked = False  # the window was full: reading sends a window update
        self.owed = 0  # segments the modem received and has not acked
        self.srv_owed = 0  # segments the server received and has not acked
        self.ack_timer = False  # a delayed ACK is due (modem side)
        self.srv_ack_timer = False  # ... (server side)


class _Http:
    """The HTTP service between AT+HTTPINIT and AT+HTTPTERM (A76-ATM §16.2.3 defaults)."""

    def __init__(self):
        self.url = ""
        self.connectto = 120
        self.recvto = 20
        self.sslcfg = 0
        self.readmode = 0
        self.content = "text/plain"
        self.accept = "*/*"
        self.userdata = ""
        self.conn = None  # _Link kind "http", kept between actions while the server keeps it
        self.key = None  # (tls, host, port) of conn
        self.pending = None  # the <method> of the action under way
        self.gen = 0  # counts actions: a late result of an earlier one is dropped
        self.head = b""
        self.body = b""


def _ssl_defaults():
    """An SSL context as the module boots (§19.2.1 defaults: all versions, no authentication,
    local time ignored, 300 s negotiation, no files, SNI off)."""
    return {"sslversion": 4, "authmode": 0, "ignorelocaltime": 1, "negotiatetime": 300, "cacert": "",
            "clientcert": "", "clientkey": "", "password": "", "enableSNI": 0}


def _ssl_line(i, c):
    return '+CSSLCFG: %d,%d,%d,%d,%d,"%s","%s","%s","%s",%d' % (
        i, c["sslversion"], c["authmode"], c["ignorelocaltime"], c["negotiatetime"], c["cacert"],
        c["clientcert"], c["clientkey"], c["password"], c["enableSNI"])


def _tls_records(n):
    """TLS records for n bytes written at once: at most TLS_RECORD_MAX plaintext each."""
    return (n + TLS_RECORD_MAX - 1) // TLS_RECORD_MAX


def _pem_der(pem):
    """The DER bytes of the first certificate in a PEM file (RFC 7468 §2: base64 between the
    BEGIN and END lines), or None if there is none."""
    try:
        text = pem.decode()
        a = text.index("-----BEGIN CERTIFICATE-----") + 27
        b = text.index("-----END CERTIFICATE-----", a)
        return binascii.a2b_base64("".join(text[a:b].split()))
    except (ValueError, UnicodeError):
        return None


def _parse_url(url):
    """'http[s]://host[:port][/path][?query]' -> (tls, host, port, target), or None (§16.2.3:
    "http://'server':'tcpPort'/'path'", the port 80 / 443 by default)."""
    low = url[:8].lower()
    if low.startswith("https://"):
        tls, rest, port = True, url[8:], 443
    elif low.startswith("http://"):
        tls, rest, port = False, url[7:], 80
    else:
        return None
    i = 0
    while i < len(rest) and rest[i] not in "/?":
        i += 1
    hostport, target = rest[:i], rest[i:] or "/"
    if target[0] == "?":
        target = "/" + target
    host, _, p = hostport.partition(":")
    if p:
        if not p.isdigit() or not 1 <= int(p) <= 65535:
            return None
        port = int(p)
    if not host or " " in url:
        return None
    return tls, host, port, target


def _args(text):
    """Split '1,"TCP","a,b",80' at commas outside quotes; quotes removed."""
    out = []
    cur = ""
    inq = False
    for ch in text:
        if ch == '"':
            inq = not inq
        elif ch == "," and not inq:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def _int(s):
    s = s.strip()
    if not s or not (s.isdigit() or (s[0] == "-" and s[1:].isdigit())):
        raise ValueError(s)
    return int(s)


def _dec(v, scale, digits):
    """Non-negative integer v / scale with exactly `digits` decimals (scale = 10**digits)."""
    return "%d.%0*d" % (v // scale, digits, v % scale)


# ==================================================================== SMS alphabets
# 3GPP TS 23.038 §6.2.1 GSM 7-bit default alphabet, code 0x00..0x7F in order (0x1B is the escape
# to the extension table, never a character), and the extension table (§6.2.1.1).
# These are deliberately not firmware/smscodec's (whose septets, utf16_units and ucs2_hex do the
# same): the emulator is the firmware's check. With one shared table or count, a wrong code or a
# miscounted extension character or surrogate would be written by one side, read back by the
# other and pass; kept apart, the person's log shows the wrong text and AT+CMGS refuses the text
# the firmware thought fits.
_GSM_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXT = {"\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
            "]": 0x3E, "|": 0x40, "€": 0x65}
_GSM_CODE = {}  # character -> code in the basic table
for _i in range(128):
    if _i != 0x1B:
        _GSM_CODE[_GSM_BASIC[_i]] = _i
del _i
_HEX = "0123456789ABCDEF"


def _septets(text):
    """Septets text takes in the GSM 7-bit alphabet (extension characters count 2), or -1 if a
    character is in neither table."""
    n = 0
    for ch in text:
        if ch in _GSM_CODE:
            n += 1
        elif ch in _GSM_EXT:
            n += 2
        else:
            return -1
    return n


def _gsm_bytes(text):
    out = bytearray()
    for ch in text:
        c = _GSM_CODE.get(ch)
        if c is None:
            out.append(0x1B)
            out.append(_GSM_EXT[ch])
        else:
            out.append(c)
    return bytes(out)


def _utf16(text):
    """UTF-16 code units of text (surrogate pairs above U+FFFF)."""
    out = []
    for ch in text:
        c = ord(ch)
        if c >= 0x10000:
            c -= 0x10000
            out.append(0xD800 + (c >> 10))
            out.append(0xDC00 + (c & 0x3FF))
        else:
            out.append(c)
    return out


def _hex16(units):
    out = []
    for u in units:
        out.append(_HEX[u >> 12] + _HEX[(u >> 8) & 15] + _HEX[(u >> 4) & 15] + _HEX[u & 15])
    return "".join(out)


def _unhex16(s):
    """Hex of UTF-16BE (either case) -> str; None if it is not whole, valid UTF-16."""
    if len(s) % 4:
        return None
    units = []
    for i in range(0, len(s), 4):
        q = s[i:i + 4]
        for ch in q:
            if ch not in "0123456789abcdefABCDEF":
                return None
        units.append(int(q, 16))
    out = []
    i = 0
    while i < len(units):
        u = units[i]
        if 0xD800 <= u < 0xDC00:
            if i + 1 >= len(units) or not 0xDC00 <= units[i + 1] < 0xE000:
                return None
            out.append(chr(0x10000 + ((u - 0xD800) << 10) + units[i + 1] - 0xDC00))
            i += 2
            continue
        if 0xDC00 <= u < 0xE000:
            return None
        out.append(chr(u))
        i += 1
    return "".join(out)


def _toa(number):
    """Type of address: 145 international ('+'), 129 otherwise (27.005/27.007)."""
    return 145 if number[:1] == "+" else 129


def _stamp(world, ms=None):
    """'yy/MM/dd,hh:mm:ss+zz': local time, zone in quarter hours (+CCLK, <scts>)."""
    y, mo, d, h, mi, s = world.local_parts(ms)
    tz = world.tz_offset_at(ms)  # the zone in force then: NITZ follows daylight saving
    q = tz // 15 if tz >= 0 else -((-tz) // 15)
    return "%02d/%02d/%02d,%02d:%02d:%02d%s%02d" % (y % 100, mo, d, h, mi, s, "+" if q >= 0 else "-", abs(q))


class _Call:
    """The one voice call: mo True when the watch dialled."""

    def __init__(self, mo, number, person, withheld=False):
        self.mo = mo
        self.number = "" if withheld else number
        self.peer = "withheld" if withheld else number  # for the wire log
        self.type = 128 if withheld else _toa(number)
        self.withheld = withheld
        self.person = person
        self.stat = 2 if mo else 4
        self.ringing = False  # MT: RING cycle running
        self.begin_ms = None  # VOICE CALL: BEGIN
        self.talk_s = 0


class _Sms:
    def __init__(self, stat, number, scts, text):
        self.stat = stat
        self.number = number
        self.scts = scts
        self.text = text


class _Draws:
    """A 31-bit linear congruential stream: the same numbers on CPython and MicroPython."""

    def __init__(self, seed):
        self.x = seed

    def draw(self, lo, hi):
        """An integer in lo..hi."""
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return lo + (self.x >> 8) % (hi - lo + 1)


class A76xxEmulator:
    # PWRKEY timings (ms): press to power on, press to power off, off before a power-on counts
    PWRKEY_MS = (PRESS_ON_MS, PRESS_OFF_MS, OFF_MIN_MS)
    # A boot: the press to the UART ready, the URCs then, the SMS service's (ms after, text),
    # other URCs after (ms, text), the registration (ms after, with coverage)
    BOOT_MS = BOOT_MS
    READY_URCS = ("*ATREADY: 1",)
    SMS_READY = (SMS_DONE_MS, "SMS DONE")
    LATER_URCS = ((PB_DONE_MS, "PB DONE"),)
    REG_MS = REG_MS

    def __init__(self, vt, world, imei, iccid, meter=None, variant="foreign", remote_end="both",
                 sms_capacity=40, sms_slow_one_in=SMS_SLOW_ONE_IN, gnss_ttff=None, gnss_firmware=None,
                 sleep_idle_ms=None, model=None, gnss=None, voice=None, sms=None, nitz=None, ctzu=None,
                 netopen_ms=None, cipopen_ms=None):
        if variant not in ("foreign", "manual", "domestic"):
            raise ValueError("variant: %r" % variant)
        if gnss_ttff is None:
            gnss_ttff = _scenario_option(world, "gnss_ttff", "slow")
        if gnss_firmware is None:
            gnss_firmware = _scenario_option(world, "gnss_firmware", "new")
        if gnss_ttff not in GNSS_TTFF:
            raise ValueError("gnss_ttff: %r" % gnss_ttff)
        if gnss_firmware not in ("new", "old"):
            raise ValueError("gnss_firmware: %r" % gnss_firmware)
        if sleep_idle_ms is None:
            sleep_idle_ms = _scenario_option(world, "sleep_idle_ms", SLEEP_IDLE_MS)
        if not 10000 <= sleep_idle_ms <= 20000:  # the application note's range
            raise ValueError("sleep_idle_ms: %r (A76-SLEEP §2: 10-20 s)" % sleep_idle_ms)
        self.sleep_idle_ms = sleep_idle_ms
        if model is None:
            model = _scenario_option(world, "model", MODEL)
        if model not in MODELS:
            raise ValueError("model: %r (one of %s)" % (model, ", ".join(sorted(MODELS))))
        self.model = model
        has = MODELS[model]
        parts = []
        for i, (name, v) in enumerate((("gnss", gnss), ("voice", voice), ("sms", sms))):
            if v is None:
                v = _scenario_option(world, name, has[i])
            if v not in (True, False):
                raise ValueError("%s: %r" % (name, v))
            parts.append(v)
        self.has_gnss, self.has_voice, self.has_sms = parts
        self._refused = []  # commands this variant answers ERROR to
        for ok, names in ((self.has_gnss, _GNSS_CMDS), (self.has_voice, _VOICE_CMDS),
                          (self.has_sms, _SMS_CMDS)):
            if not ok:
                self._refused.extend(names)
        if nitz is None:
            nitz = _scenario_option(world, "nitz", "late")
        if nitz not in ("late", "never"):
            raise ValueError("nitz: %r" % nitz)
        self.nitz_mode = nitz
        if ctzu is None:
            ctzu = _scenario_option(world, "ctzu", 0)
        if ctzu not in (0, 1):
            raise ValueError("ctzu: %r" % ctzu)
        self.ctzu = ctzu  # nonvolatile (A76-ATM §4.2.12): kept across boots and power cuts
        # how long the network takes to answer AT+NETOPEN / AT+CIPOPEN (None: the usual)
        self.open_ms = []
        for name, v in (("netopen_ms", netopen_ms), ("cipopen_ms", cipopen_ms)):
            if v is None:
                v = _scenario_option(world, name, None)
            if v is not None and not 0 <= v <= 600000:
                raise ValueError("%s: %r" % (name, v))
            self.open_ms.append(v)
        self.gnss_ttff = gnss_ttff
        self.gnss_firmware = gnss_firmware
        self.ttff_ms = GNSS_TTFF[gnss_ttff]  # (hot, warm, cold, assisted)
        self.agps_ms = AGPS_MS[gnss_ttff]
        self.gnss_store = None  # AP_Flash: (last fix ms, AGPS ms) stored by AT+CGNSSPWR=0,1
        self.gnss_powerons = 0
        self.agps_downloads = 0
        self.agps_bytes = 0
        self.air_up = 0  # bytes on air with IP/TCP/UDP overhead (module docstring)
        self.air_down = 0
        # certificate files (AT+CCERTDOWN): the module's flash, kept across boots and power cuts
        self.certs = {}
        self.tls_handshakes = 0  # TLS handshakes completed (AT+CCHOPEN type 2, https)
        self.tls_refused = 0  # ... failed (not our CA, no certificate set, no TLS there)
        self.http_requests = 0  # HTTP requests sent
        if remote_end not in ("both", "end", "no_carrier"):
            raise ValueError("remote_end: %r" % remote_end)
        if sms_capacity < 1 or sms_capacity > 255:
            raise ValueError("sms_capacity: %r" % sms_capacity)
        if sms_slow_one_in < 1:
            raise ValueError("sms_slow_one_in: %r" % sms_slow_one_in)
        self.sms_slow_one_in = sms_slow_one_in  # 1: every AT+CMGS takes the slow end
        self.remote_end = remote_end
        self.wire = None  # wire(direction, channel, peer, data): the runner's recorder
        self.people = getattr(world, "people", None)
        # the SIM's SMS store and message reference: they survive reboots and power cuts
        self.sms = [None] * sms_capacity
        self._mr = 0
        self.call = None
        self._ring_low = False
        self.calls_in = 0  # calls that rang at the watch
        self.calls_out = 0  # calls the watch placed through the network
        self.sms_in = 0  # texts delivered to the watch
        self.sms_out = 0  # texts the watch sent
        self.vt = vt
        self.world = world
        self.imei = imei
        self.iccid = iccid
        self.meter = meter
        self.variant = variant
        self.uart = None
        self.pwrkey = None
        self.dtr = None
        self.ri = None
        # stats
        self.commands = 0
        self.bytes_to_host = 0
        self.bytes_from_host = 0
        self.dropped_bytes = 0
        self.urcs = 0
        self.boots = 0
        self.ri_pulses = 0
        # state
        self.state = "off"  # "off" | "boot" | "on"
        self._gen = 0  # bumped at every power change: callbacks from an older life are ignored
        seed = 0
        for ch in str(imei):
            seed = (seed * 31 + ord(ch)) & 0x7FFFFFFF
        self._draws = _Draws(seed)  # _rand: timings, link splits ...
        # the SMS centre's own stream: which submission is slow, and how slow, depends on how
        # many texts the run has sent, not on the AT traffic around them, so a change in the
        # firmware's other commands does not move a slow SMS onto an SOS
        self._sms_draws = _Draws(seed ^ 0x5A5A5A5A)
        self._tx_free = 0
        self._press_at = None
        self._mute_until = 0
        self._meter_modem = None
        self._meter_gnss = None
        self._meter_led = None
        self._sleep_ev = None
        self._ri_until = 0
        self._reset_settings()
        for ms in world.coverage_changes():
            vt.at(ms, self._coverage_changed)
        if self.people is not None:  # the people act on the world's time, not the modem's
            for p in self.people:
                for c in p.calls:
                    vt.at(c["at_ms"], lambda p=p, c=c: self._incoming_call(p, c))
                for t in p.texts:
                    vt.at(t["at_ms"], lambda p=p, t=t: self._person_texts(p, t["text"]))
        self._meter()

    # ================================================================ wiring
    def on_uart(self, uart):
        self.uart = uart

    def attach_pins(self, pwrkey=None, dtr=None, ri=None):
        self.pwrkey = pwrkey
        self.dtr = dtr
        self.ri = ri
        if pwrkey is not None:
            if pwrkey.level:
                self._press_at = self.vt.ms
            pwrkey.watch(self._on_pwrkey)
        if dtr is not None:
            dtr.watch(self._on_dtr)
        if ri is not None:
            ri.drive(1)

    # ================================================================ settings and power
    def _reset_settings(self):
        self.echo = True
        self.cmee = 1
        self.cfgri = 0
        self.csclk = 0
        self.rx_mode = 0  # AT+CIPRXGET: 0 push, 1 buffer
        self.srip = 1  # AT+CIPSRIP: show RECV FROM
        self.creg_n = 0
        self.cgreg_n = 0
        self.cereg_n = 0
        self.cfun = 1
        self.apn = ""
        self.sim_ready = False
        self.registered = False
        self.nitz = False  # the clock holds network time (lost at every boot)
        self.boot_ms = self.vt.ms
        self.net = 0  # 0 closed, 1 opening, 2 open, 3 half-open (lost: open, no PDP context)
        self._net_try = 0  # counts AT+NETOPEN attempts: a late result of an old one is ignored
        self.cip_to = [CIPTIMEOUT_MS, CIPTIMEOUT_MS, CIPTIMEOUT_MS]  # AT+CIPTIMEOUT, NO_SAVE
        self.links = [None] * LINKS
        self.gnss_on = False
        self.gnss_ready_ms = None
        self._gnss_gen = 0
        self.gnss_ap_flash = 0  # AT+CGNSSPWR? fields (NO_SAVE: defaults after a boot, ASSUMED)
        self.gnss_dynamic = 1
        self.gnss_loader = 0
        self.last_fix_ms = None  # the GNSS chip's data: its last fix ...
        self.agps_at_ms = None  # ... and its last assistance download
        self._agps_busy = False
        self.asleep = False
        self._waking = False
        self._line = bytearray()
        self._dm = None  # data mode: [link or fn(data), remaining, buffer]
        self._reset_tls_http()
        self._last_io = self.vt.ms
        self._active_until = 0
        self._tail_until = 0  # RRC-connected until then (TAIL_MS after the last burst)
        for k in _PHONE_DEFAULTS:  # voice and SMS settings
            setattr(self, k, _PHONE_DEFAULTS[k])
        self.sms_ready = False  # SMS DONE
        self._sdm = None  # AT+CMGS text entry: [da, buffer, overflow]
        self._busy = False  # a final result is pending: input dropped
        self._in_cmd = False
        self._drop_call()

    def _rand(self, lo, hi):
        return self._draws.draw(lo, hi)

    def _later(self, delay, fn):
        """fn() after delay ms, unless the modem has been power-cycled by then."""
        gen = self._gen

        def run():
            if gen == self._gen:
                fn()

        return self.vt.after(delay, run)

    def _drop_links(self):
        for i in range(LINKS):
            lk = self.links[i]
            self.links[i] = None
            if lk is not None and lk.state != "closed":
                lk.state = "closed"
                self._conn_close(lk)

    def _conn_close(self, lk):
        c = lk.conn
        lk.conn = None
        if c is not None and hasattr(c, "close"):
            c.close()

    def _go_off(self):
        self._drop_links()
        self._drop_sessions(None)
        self._gen += 1
        self.state = "off"
        self._off_at = self.vt.ms
        self._mute_until = 0  # a hung module comes back from a power cycle
        self._press_at = None
        self._reset_settings()
        if self._sleep_ev is not None:
            self.vt.cancel(self._sleep_ev)
            self._sleep_ev = None
        self._meter()

    def _power_on(self, press_ms):
        self._gen += 1
        self.state = "boot"
        self._reset_settings()
        self.boots += 1
        self._meter()
        self._later(max(0, press_ms + self.BOOT_MS - self.vt.ms), self._atready)

    def _atready(self):
        self.state = "on"
        self.boot_ms = self.vt.ms
        self._last_io = self.vt.ms
        self._meter()
        for urc in self.READY_URCS:
            self._urc(urc)
        self._later(CPIN_MS, self._sim_ready)
        self._later(self.SMS_READY[0], self._sms_done)
        for ms, urc in self.LATER_URCS:
            self._later(ms, lambda u=urc: self._urc(u))
        self._later(self.REG_MS, self._try_register)

    def _sim_ready(self):
        self.sim_ready = True
        self._urc("+CPIN: READY")

    def _sms_done(self):
        self.sms_ready = True
        self._urc(self.SMS_READY[1])

    # ---- faults for the runner ----
    def reboot(self):
        """The modem restarts by itself: links and network gone, GNSS off, boot URCs again."""
        if self.state == "off":
            return
        self._drop_links()
        self._power_on(self.vt.ms)

    def power_cut(self):
        """Power gone: off at once, no URC."""
        self._go_off()

    def garbage(self, data):
        """Emit raw bytes on the UART (line noise, a babbling modem)."""
        self._out(bytes(data), 0, gen=None)

    def mute(self, ms):
        """Ignore all input for ms."""
        self._mute_until = self.vt.ms + ms

    def hang(self):
        """The module's firmware locks up: all input ignored until it is powered off (a long
        PWRKEY press still works: it is a hardware line)."""
        self._mute_until = self.vt.ms + 10 ** 12

    # ---- pins ----
    def _on_pwrkey(self, level):
        now = self.vt.ms
        if level:
            self._press_at = now
            return
        t0 = self._press_at
        self._press_at = None
        if t0 is None:
            return
        held = now - t0
        on_ms, off_ms, min_off = self.PWRKEY_MS
        if self.state == "off":
            # A7670-HD: wait >= 2 s after power-off before powering on again (hardware.md §5.2)
            if held >= on_ms and t0 - getattr(self, "_off_at", -min_off) >= min_off:
                self._power_on(t0)
        elif held >= off_ms:
            self._pwrkey_off()

    def _pwrkey_off(self):
        """A long PWRKEY press while on: the A7670 is off at once (a profile may say goodbye)."""
        self._go_off()

    def _dtr_high(self):
        return self.dtr is not None and self.dtr.level == 1

    def _on_dtr(self, level):
        if self.state != "on":
            return
        if level:
            self._arm_sleep()
        elif self.asleep:
            self._wake()

    def _wake(self):
        if self._waking:
            return
        self._waking = True

        def done():
            self._waking = False
            self.asleep = False
            self._last_io = self.vt.ms
            self._arm_sleep()
            self._meter()

        self._later(WAKE_MS, done)

    def _arm_sleep(self):
        if self._sleep_ev is not None:
            self.vt.cancel(self._sleep_ev)
            self._sleep_ev = None
        if self.state != "on" or self.csclk == 0 or self.asleep:
            return
        gen = self._gen

        def check():
            self._sleep_ev = None
            if gen == self._gen:
                self._try_sleep()

        due = self._last_io + self.sleep_idle_ms
        if due < self._tail_until:  # the link released first (a later burst re-arms it)
            due = self._tail_until
        self._sleep_ev = self.vt.at(due, check)

    def _try_sleep(self):
        if self.state != "on" or self.asleep or self._dm is not None or self._sdm is not None:
            return
        if self.call is not None or self._busy:  # audio, or a command running (A76-SLEEP §2.3);
            return  # the call's last URC or the command's result arms the idle timer again
        if self.gnss_on:  # the A7670 stays awake while its GNSS runs (§3.2 list); the command
            return  # that powers it off is UART activity, which arms the idle timer again
        if self.cfun == 1 and not self.registered:
            # ASSUMED (harsh end): the sleep figures are for a registered module (hardware.md
            # §3.2, "Sleep (registered, DTR/CSCLK)"); one searching for a network is charged
            # its search current and does not sleep; registering arms the idle timer again
            return
        if self.csclk == 0 or (self.csclk == 1 and not self._dtr_high()):
            return
        if self.vt.ms - self._last_io < self.sleep_idle_ms or self.vt.ms < self._tail_until:
            self._arm_sleep()
            return
        self.asleep = True
        self._meter()

    # ---- energy ----
    def _radio(self, ms=ACTIVE_MS):
        """Radio traffic now: the modem is 'active' for the next ms (at least), then in the
        RRC-connected 'tail' for TAIL_MS more."""
        until = self.vt.ms + ms
        if until > self._active_until:
            self._active_until = until
        if until + TAIL_MS > self._tail_until:
            self._tail_until = until + TAIL_MS
        self._meter()
        self._later(ms, self._meter)
        self._later(ms + TAIL_MS, self._meter)

    def _meter(self):
        if self.meter is None:
            return
        if self.state == "off":
            st = "off"
        elif self.state == "boot":
            st = "boot"
        elif self.call is not None and self.call.stat == 0:
            st = "call"  # speech both ways
        elif self.vt.ms < self._active_until or self.call is not None:
            st = "active"  # radio traffic, or a call being set up or ringing
        elif self.vt.ms < self._tail_until:
            st = "tail"  # RRC-connected until the operator's inactivity timer
        elif self.cfun == 1 and not self.registered:
            # searching for a network, the UART asleep or not: the receiver on (the "boot" row,
            # docs/energy.md; ASSUMED: the sleep rows are for a registered module, §3.2)
            st = "boot"
        elif self.asleep:
            st = "sleep"
        else:
            st = "idle"
        if st != self._meter_modem:
            self._meter_modem = st
            self.meter.set("modem", st)
        g = "on" if self.gnss_on and self.state != "off" else "off"
        if g != self._meter_gnss:
            self._meter_gnss = g
            self.meter.set("gnss", g)
        led = "on" if self.state == "on" else "off"  # STATUS high once the module is on
        if led != self._meter_led:
            self._meter_led = led
            self.meter.set("led", led)

    # ================================================================ output
    def _out(self, data, delay, urc=False, ri_ms=RI_URC_MS, gen=0):
        """Queue bytes for the host. Output is a FIFO: bytes leave in the order queued, each
        chunk taking its wire time at BAUD. Returns the ms at which it is delivered."""
        now = self.vt.ms
        due = now + delay
        if due < self._tx_free:
            due = self._tx_free
        self._tx_free = due + len(data) * 10000 // BAUD
        g = self._gen if gen == 0 else gen

        def deliver():
            if g is not None and g != self._gen:
                return
            self._deliver(data, urc, ri_ms)

        self.vt.at(due, deliver)
        return due

    def _deliver(self, data, urc, ri_ms):
        if urc and self.state != "off":
            self.urcs += 1
            self._last_io = self.vt.ms
            if self.asleep:  # a URC wakes the module (RI + output)
                self.asleep = False
                self._meter()
            self._arm_sleep()
        if self.uart is not None:
            self.uart.feed(data)
            self.bytes_to_host += len(data)
        if urc and ri_ms and self.cfgri and self.ri is not None:
            self._ri_pulse(ri_ms)

    def _ri_pulse(self, ms):
        self.ri_pulses += 1
        until = self.vt.ms + ms
        if until > self._ri_until:
            self._ri_until = until
        self._ri_apply()
        self.vt.at(until, self._ri_apply)

    def _ri_apply(self):
        """RI is low while a call rings (its low phase) or a URC pulse lasts, else high."""
        if self.ri is None:
            return
        lvl = 0 if self._ring_low or self.vt.ms < self._ri_until else 1
        if self.ri.level != lvl:
            self.ri.drive(lvl)

    def _urc(self, line, delay=0, ri_ms=RI_URC_MS):
        if isinstance(line, str):
            line = line.encode()
        return self._out(b"\r\n" + line + b"\r\n", delay, True, ri_ms)

    def _urc_raw(self, data, delay=0):
        return self._out(data, delay, True)

    # ================================================================ input
    def on_host_write(self, data):
        n = len(data)
        self.bytes_from_host += n
        now = self.vt.ms
        if self.state != "on" or now < self._mute_until:
            self.dropped_bytes += n
            return
        if self.asleep:
            self.dropped_bytes += n
            if self.csclk == 2:  # RX wake: the bytes that wake it are lost (§1.9)
                self._wake()
            return
        self._last_io = now
        self._arm_sleep()
        i = 0
        while i < n:
            if self._busy:  # a final result is pending (AT+CMGS): the rest is lost
                self.dropped_bytes += n - i
                return
            if self._sdm is not None:
                i = self._sms_input(data, i, n)
                continue
            dm = self._dm
            if dm is not None:
                take = min(dm[1], n - i)
                dm[2] += data[i:i + take]
                dm[1] -= take
                i += take
                if dm[1] == 0:
                    self._dm = None
                    if isinstance(dm[0], int):
                        self._send_done(dm[0], bytes(dm[2]))
                    else:  # AT+CCHSEND, AT+CCERTDOWN: their own completion
                        dm[0](bytes(dm[2]))
                continue
            b = data[i]
            i += 1
            if b == 13:
                line = bytes(self._line)
                self._line = bytearray()
                self._command(line)
            elif b == 10 and not self._line:
                continue  # the LF of a CRLF terminator
            else:
                self._line.append(b)
                if len(self._line) > MAX_LINE:
                    self._line = bytearray()

    def _command(self, line):
        if not line.strip():
            return
        self.commands += 1
        if self.echo:  # the command line exactly as received, with its CR (§1.0)
            self._out(line + b"\r", 1)
        self._resp = bytearray()
        self._post = []
        try:
            text = line.decode()
        except Exception:
            text = ""
        self._in_cmd = True
        try:
            result = self._execute(text)
        finally:
            self._in_cmd = False
        resp = bytes(self._resp)
        if result == _PROMPT:
            self._out(resp + b"\r\n> ", self._rand(5, 30))
            return
        if result == _LATER:
            if resp:
                self._out(resp, self._rand(5, 30))
            return
        self._out(resp + self._final(result), self._rand(5, 30))
        for line, delay in self._post:  # URCs that follow the final result (FIFO keeps them after)
            self._urc(line, delay)

    def _final(self, result):
        if result is None:
            return b"\r\nOK\r\n"
        if result == _NO_CARRIER:
            return b"\r\nNO CARRIER\r\n"
        if result <= _CMS:  # +CMS ERROR stays numeric whatever AT+CMEE (ASSUMED)
            return ("\r\n+CMS ERROR: %d\r\n" % (_CMS - result)).encode()
        if result == _ERROR or self.cmee == 0:
            return b"\r\nERROR\r\n"
        if self.cmee == 2:
            return ("\r\n+CME ERROR: %s\r\n" % _CME_TEXT.get(result, "unknown error")).encode()
        return ("\r\n+CME ERROR: %d\r\n" % result).encode()

    def _urc_after(self, line, delay):
        """A URC the current command triggers: it goes out after the command's final result."""
        self._post.append((line, delay))

    def _event(self, line):
        """A URC now, or after the final result when a command caused it."""
        if self._in_cmd:
            self._urc_after(line, 0)
        else:
            self._urc(line)

    def _info(self, line):
        self._resp += b"\r\n" + line.encode() + b"\r\n"

    def _execute(self, text):
        """Run one command line (possibly several commands chained with ';' after one AT)."""
        if len(text) < 2 or text[:2].upper() != "AT":
            return _ERROR
        body = text[2:]
        if body[:1] in ("D", "d"):  # ATD<number>[;]: the whole rest of the line is the dial string
            return self._dial(body[1:]) if self.has_voice else _ERROR
        cmds = []
        i = 0
        n = len(body)
        while i < n:
            c = body[i]
            if c == ";" or c == " ":
                i += 1
            elif c in "+*$^":
                j = i
                inq = False
                while j < n and (inq or body[j] != ";"):
                    if body[j] == '"':
                        inq = not inq
                    j += 1
                cmds.append(body[i:j])
                i = j + 1
            else:
                j = i + 2 if c == "&" else i + 1
                while j < n and body[j].isdigit():
                    j += 1
                cmds.append(body[i:j])
                i = j
        result = None
        for cmd in cmds:
            if cmd[0] in "+*$^":
                result = self._extended(cmd)
            else:
                result = self._basic(cmd.upper())
            if result is not None:
                break
        return result

    def _basic(self, cmd):
        c = cmd[0]
        v = cmd[1:] or "0"
        if c == "E" and v in ("0", "1"):
            self.echo = v == "1"
            return None
        if cmd == "A":
            return self._answer() if self.has_voice else _ERROR
        if cmd in ("H", "H0"):  # hangs up a voice call only after AT+CVHU=0 (A76-ATM §2.2.3)
            if self.cvhu == 0:
                self._hang_up()
            return None
        if c in "VQ" or cmd in ("&F", "&F0", "&W", "&W0", "Z", "Z0"):
            return None
        if c == "I":  # A76-ATM §2.2.7; an A7670E-FASE's lines (LilyGo-Modem-Series issue #137)
            self._info("Manufacturer: SIMCOM INCORPORATED")
            self._info("Model: %s" % self.model)
            self._info("Revision: %s" % REVISION)
            self._info("IMEI: %s" % self.imei)
            self._info("+GCAP: +CGSM,+FCLASS,+DS")
            return None
        return _ERROR

    @staticmethod
    def handlers():
        """The extended commands this module knows, by name (a profile's subclass has its own)."""
        return _HANDLERS

    def _extended(self, cmd):
        k = 0
        n = len(cmd)
        while k < n and cmd[k] not in "=?":
            k += 1
        name = cmd[:k].upper()
        rest = cmd[k:]
        if rest == "":
            kind, args = "exec", []
        elif rest == "?":
            kind, args = "read", []
        elif rest == "=?":
            kind, args = "test", []
        elif rest[0] == "=":
            kind, args = "write", _args(rest[1:])
        else:
            return _ERROR
        h = self.handlers().get(name)
        if h is None or name in self._refused:  # a part this variant lacks: unknown to it
            return _ERROR
        try:
            return h(self, kind, args)
        except (ValueError, IndexError):
            return _ERROR

    # ================================================================ registration, network
    def _reg_stat(self):
        if self.registered:
            return 1
        if self.state == "on" and self.cfun == 1 and self.sim_ready and self.world.coverage_at():
            return 2
        return 0

    def _reg_urcs(self):
        st = self._reg_stat()
        if self.creg_n:
            self._urc("+CREG: %d" % st)
        if self.cgreg_n:
            self._urc("+CGREG: %d" % st)
        if self.cereg_n:
            self._urc("+CEREG: %d" % st)

    def _try_register(self):
        if self.state != "on" or self.cfun != 1 or self.registered:
            return
        if not self.world.coverage_at():
            return  # coverage_changed() registers when it comes back
        self.registered = True
        if self.nitz_mode != "never":
            self._later(NITZ_MS, self._nitz_arrives)
        self._radio()
        self._reg_urcs()
        self._meter()

    def _nitz_arrives(self):
        """The network's time and zone (NITZ): they set the clock only with AT+CTZU=1 (§4.2.12)."""
        if self.state == "on" and self.registered and self.ctzu == 1:
            self.nitz = True

    def _lose_network(self, urc=True):
        was = self.registered
        self.registered = False
        if was:
            self._reg_urcs()
        if self.call is not None:
            self._call_lost(self.call)
        if self.net == 2 and urc:
            self._urc("+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY")
            self.net = 3  # half-open until AT+NETCLOSE (§15.4)
        elif not urc:
            self.net = 0  # the radio switched off (AT+CFUN): closed (ASSUMED)
        # an AT+NETOPEN under way fails when its result is due (+NETOPEN: 1)
        self._drop_links()
        self._drop_sessions("network")
        self._meter()

    def _coverage_changed(self):
        if self.state != "on":
            return
        if self.world.coverage_at():
            if self.cfun == 1 and self.sim_ready and not self.registered:
                self._later(REREG_MS, self._try_register)
        else:
            self._lose_network()

    # ================================================================ sockets
    def _cipopen_result(self, lk):
        if lk.state != "opening":
            if lk.state == "closed":  # the network went away while connecting
                self._urc("+CIPOPEN: %d,1" % lk.n)
            return  # "cancelled" by AT+CIPCLOSE: nothing to report
        err = 0
        if self.net != 2:
            err = 2
        elif not self.registered or not self.world.coverage_at():
            err = 1
        else:
            lk.ip = self.world.resolve(lk.host)
            self._air_dns(lk.host, lk.ip is not None)
            if lk.ip is None:
                err = 11
            else:

                def send(data, lk=lk):
                    return self._net_down(lk, bytes(data))

                def close(lk=lk):
                    self._net_closed(lk)

                peer = "%s:%d" % (LOCAL_IP, 40000 + lk.n)
                lk.state = "open"  # the server may send from inside connect()
                lk.down_free = self.vt.ms
                conn = self.world.connect(lk.host, lk.port, peer, send, close)
                if conn is None:
                    err = 4
                    self._air(SYN_BYTES, RST_BYTES)
                else:
                    lk.conn = conn
                    self._air(SYN_BYTES + TCPIP_HDR, SYN_BYTES)
        self._radio()
        if err:
            lk.state = "closed"
            self.links[lk.n] = None
        self._urc("+CIPOPEN: %d,%d" % (lk.n, err))

    def _cipopen_timeout(self, lk):
        """The CIPOPEN limit of AT+CIPTIMEOUT passed before the network answered: the attempt
        is dropped (its SYN went out) and reported as <err> 10 (ASSUMED form)."""
        if lk.state != "opening":
            if lk.state == "closed":  # the network went away while connecting
                self._urc("+CIPOPEN: %d,1" % lk.n)
            return
        lk.state = "closed"
        if self.links[lk.n] is lk:
            self.links[lk.n] = None
        self._air(SYN_BYTES, 0)
        self._radio()
        self._urc("+CIPOPEN: %d,%d" % (lk.n, ERR_TIMEOUT))

    def _open_delay(self, which, lo, hi):
        """ms the network takes to answer an AT+NETOPEN (which 0) / AT+CIPOPEN (1): the
        "netopen_ms" / "cipopen_ms" option, or lo..hi."""
        v = self.open_ms[which]
        return v if v is not None else self._rand(lo, hi)

    def _net_open(self, up, down, limit=None, late=None):
        """The data network opens (net 1): after _open_delay it is up (net 2) and says `up`,
        registered and with coverage, else down (net 0) saying `down`; with a limit the open
        delay may pass, then it is down and says `late`. A newer open or a close in between
        silences it."""
        self.net = 1
        self._net_try += 1
        try_n = self._net_try
        delay = self._open_delay(0, 300, 800)
        if limit is not None and delay > limit:
            delay, up = limit, None

        def result():
            if self.net != 1 or self._net_try != try_n:
                return
            if up is not None and self.registered and self.world.coverage_at():
                self.net = 2
                self._radio()
                self._urc(up)
            else:
                self.net = 0
                self._urc(down if up is not None else late)

        self._later(delay, result)

    def _net_down(self, lk, data):
        """The server wrote data: it goes on air as far as the link's window allows, the rest
        waits at the server. Returns the bytes waiting there."""
        lk.backlog += data
        self._pump_down(lk)
        return len(lk.backlog)

    def _host_read(self, lk, data):
        """The host read data (bytes) from lk's buffer: emptied, its next arrival is announced
        again; a window the buffer had filled opens (a window update on air, then more comes)."""
        if not lk.rx:
            lk.notified = False
        if data and lk.blocked and lk.state == "open":
            lk.blocked = False
            self._air(TCPIP_HDR, 0)
            self._radio()
            self._pump_down(lk)

    def _pump_down(self, lk):
        """What the window takes reaches the modem after network latency, in order. Half the
        time a write arrives in two pieces a few ms apart (TCP keeps no message boundaries), so
        the firmware's reassembly of partial frames is exercised; on air it is segmented at the
        MSS like any write."""
        room = RX_WINDOW - lk.inflight - len(lk.rx)
        if not lk.backlog or room <= 0:
            lk.blocked = lk.blocked or bool(lk.backlog)
            return
        if len(lk.backlog) <= room:
            data, lk.backlog = bytes(lk.backlog), bytearray()
        else:
            data, lk.backlog = bytes(lk.backlog[:room]), lk.backlog[room:]
            lk.blocked = True
        lk.srv_owed = 0  # the server's ACK rides on its data
        lk.inflight += len(data)
        due = self.vt.ms + self._rand(50, 150)
        if due < lk.down_free:
            due = lk.down_free
        parts = [data]
        if len(data) > 8 and self._rand(0, 1):
            cut = self._rand(1, len(data) - 1)
            parts = [data[:cut], data[cut:]]
        extra = _tls_records(len(data)) * TLS_RECORD_OVERHEAD if lk.tls else 0
        segs = _segments(len(data) + extra)
        self._air(0, len(data) + extra + segs * TCPIP_HDR)
        for part in parts:
            lk.down_free = due
            self._later(due - self.vt.ms, lambda p=part, n=segs: self._rx(lk, p, n))
            segs = 0  # counted with the first piece
            due += self._rand(5, 40)

    # ---- bytes on air (module docstring) ----
    def _air(self, up, down):
        self.air_up += up
        self.air_down += down

    def _air_dns(self, host, found):
        """A lookup of host (nothing for a dotted IP): the query, the answer with one A record
        (RFC 1035 §4.1: header 12, the name in labels len + 2, type and class 4; the record a
        name pointer 2, type 2, class 2, TTL 4, length 2, address 4)."""
        parts = host.split(".")
        if len(parts) == 4 and all(p.isdigit() for p in parts):
            return
        q = 12 + len(host) + 2 + 4
        self._air(UDP_IP_HDR + q, UDP_IP_HDR + q + (16 if found else 0))

    def _air_exchange(self, host, up, down):
        """One short TCP connection's bytes: lookup, handshake, a request, a reply acked every
        second segment, the close."""
        self._air_dns(host, True)
        su, sd = _segments(up), _segments(down)
        self._air(SYN_BYTES + TCPIP_HDR + up + su * TCPIP_HDR + (sd + 1) // 2 * TCPIP_HDR + 2 * TCPIP_HDR,
                  SYN_BYTES + down + sd * TCPIP_HDR + TCPIP_HDR)

    def _ack_rx(self, lk, segs, server):
        """segs segments arrived at the modem (server False) or at the server (True): a pure
        ACK for every two, a delayed one for a lone segment unless data carries it first."""
        owed = (lk.srv_owed if server else lk.owed) + segs
        pure = owed // 2 * TCPIP_HDR
        owed %= 2
        if server:
            lk.srv_owed = owed
            self._air(0, pure)
            if owed and not lk.srv_ack_timer:
                lk.srv_ack_timer = True
                self._later(DELACK_MS, lambda: self._delack(lk, True))
        else:
            lk.owed = owed
            self._air(pure, 0)
            if owed and not lk.ack_timer:
                lk.ack_timer = True
                self._later(DELACK_MS, lambda: self._delack(lk, False))

    def _delack(self, lk, server):
        if server:
            lk.srv_ack_timer = False
            if lk.srv_owed and lk.state == "open":
                lk.srv_owed = 0
                self._air(0, TCPIP_HDR)
        else:
            lk.ack_timer = False
            if lk.owed and lk.state == "open":
                lk.owed = 0
                self._air(TCPIP_HDR, 0)

    def _live(self, lk):
        """lk is still the connection of its link, session or HTTP service."""
        if lk.kind == "cch":
            return self.cch[lk.n] is lk
        if lk.kind == "http":
            return self.http is not None and self.http.conn is lk
        return self.links[lk.n] is lk

    def _rx(self, lk, data, segs):
        lk.inflight -= len(data)
        if not self._live(lk) or lk.state != "open":
            return
        self._ack_rx(lk, segs, False)
        self._radio()
        if lk.kind == "cch":
            self._cch_rx(lk, data)
            return
        if lk.kind == "http":
            lk.rx += data
            self._http_rx(lk)
            return
        if self.rx_mode == 1:
            lk.rx += data
            if not lk.notified:
                lk.notified = True
                self._urc("+CIPRXGET: 1,%d" % lk.n)
        else:
            head = "\r\n"
            if self.srip:
                head += "RECV FROM:%s:%d\r\n" % (lk.ip, lk.port)
            head += "+IPD%d\r\n" % len(data)
            self._urc_raw(head.encode() + data)

    def _net_closed(self, lk):
        """The server closed the connection: +IPCLOSE after the data already on its way."""
        due = self.vt.ms + self._rand(50, 150)
        if due < lk.down_free:
            due = lk.down_free
        lk.down_free = due

        def arrive():
            if not self._live(lk) or lk.state != "open":
                return
            lk.state = "closed"
            lk.conn = None
            lk.owed = 0  # the FIN+ACK carries it
            if lk.tls:  # the front's close_notify, then ours (RFC 5246 §7.2.1)
                self._air(TLS_ALERT_SEALED + TCPIP_HDR, TLS_ALERT_SEALED + TCPIP_HDR)
            self._air(TCPIP_HDR, 2 * TCPIP_HDR)  # FIN down, FIN+ACK up, ACK down
            self._radio()
            if lk.kind == "cch":
                self._urc("+CCH_PEER_CLOSED: %d" % lk.n)
            elif lk.kind == "http":
                self._http_closed(lk)
            else:
                self._urc("+IPCLOSE: %d,1" % lk.n)

        self._later(due - self.vt.ms, arrive)

    def _send_done(self, n, data):
        lk = self.links[n]
        if lk is None or lk.state != "open" or lk.conn is None:
            # the link went during data entry: nothing sent, <cnfSendLength> -1 (§15.2.4)
            self._out(b"\r\nOK\r\n", self._rand(5, 30))
            self._urc("+CIPSEND: %d,%d,-1" % (n, len(data)), self._rand(20, 60))
            return
        self._out(b"\r\nOK\r\n", self._rand(5, 30))
        self._urc("+CIPSEND: %d,%d,%d" % (n, len(data), len(data)), self._rand(20, 60))
        self._up(lk, data)

    def _up(self, lk, data):
        """data from the modem to the server over lk: on air (with a TLS record's overhead on a
        TLS link: one record per write, at most 2048 bytes here), at the server after
        latency, in order."""
        self._radio()
        extra = _tls_records(len(data)) * TLS_RECORD_OVERHEAD if lk.tls else 0
        segs = _segments(len(data) + extra)
        lk.owed = 0  # the modem's ACK rides on its data
        self._air(len(data) + extra + segs * TCPIP_HDR, 0)
        due = self.vt.ms + self._rand(50, 150)
        if due < lk.up_free:
            due = lk.up_free
        lk.up_free = due

        def arrive():
            c = lk.conn
            if c is not None and lk.state == "open" and self.world.coverage_at():
                lk.srv_owed += segs  # before receive(): a reply written there carries the ACK
                c.receive(data)
                self._ack_rx(lk, 0, True)

        self._later(due - self.vt.ms, arrive)

    # ================================================================ TLS and HTTP(S)
    def _reset_tls_http(self):
        """Boot defaults of the SSL contexts and of the SSL and HTTP services: none of their
        settings is saved ("Parameter Saving Mode -" throughout A76-ATM §19.2 and §16.2; ASSUMED
        lost at every boot). The certificate files stay (self.certs: the module's flash)."""
        self.ssl = [_ssl_defaults() for _ in range(SSL_CONTEXTS)]
        self.cch_started = False
        self.cch_set = [0, 0]  # AT+CCHSET <report_send_result>, <recv_mode> (§19.2.5)
        self.cch = [None] * CCH_SESSIONS
        self.cch_ctx = [None] * CCH_SESSIONS  # AT+CCHSSLCFG: cleared by a failed open or a close
        self.http = None  # the HTTP service between AT+HTTPINIT and AT+HTTPTERM (_Http)

    def _drop_sessions(self, why):
        """The SSL sessions and the HTTP connection end with the power (why None) or the network
        ("network"). A lost network also stops the SSL service (`+CCH: CCH STOP`, §19.4), tells
        the HTTP service (`+HTTP_NONET_EVENT`, §16.4) and fails a request under way with 709
        (ASSUMED: which notices a module gives for a lost network)."""
        for i in range(CCH_SESSIONS):
            lk = self.cch[i]
            if lk is not None and lk.state == "opening":
                lk.state = "closed"  # its pending result reports the network error
                continue
            self.cch[i] = None
            if lk is not None and lk.state != "closed":
                lk.state = "closed"
                self._conn_close(lk)
        if why is not None and self.cch_started:
            self.cch_started = False
            self._urc("+CCH: CCH STOP")
        h = self.http
        if h is None:
            return
        self._http_drop_conn(False)
        if why is not None:
            self._urc("+HTTP_NONET_EVENT")
            self._http_done(HTTP_NET_LOST, h.gen)

    def _tcp_connect(self, lk, errs, local_port):
        """The TCP connection of an SSL session or of the HTTP service, now (as _cipopen_result
        makes a link's): 0, or errs[0] without network, errs[1] when the name does not resolve,
        errs[2] when nobody accepts (a SYN answered by a RST)."""
        if not self.registered or not self.world.coverage_at():
            return errs[0]
        lk.ip = self.world.resolve(lk.host)
        self._air_dns(lk.host, lk.ip is not None)
        if lk.ip is None:
            return errs[1]

        def send(data, lk=lk):
            return self._net_down(lk, bytes(data))

        def close(lk=lk):
            self._net_closed(lk)

        lk.state = "open"  # the server may write from inside connect()
        lk.down_free = self.vt.ms
        conn = self.world.connect(lk.host, lk.port, "%s:%d" % (LOCAL_IP, local_port), send, close)
        if conn is None:
            lk.state = "closed"
            self._air(SYN_BYTES, RST_BYTES)
            return errs[2]
        lk.conn = conn
        self._air(SYN_BYTES + TCPIP_HDR, SYN_BYTES)
        return 0

    def _flight(self, lk, up, down):
        """Handshake bytes each way on lk: the payload, its segments' headers, the ACKs."""
        if up:
            segs = _segments(up)
            lk.owed = 0
            self._air(up + segs * TCPIP_HDR, 0)
            self._ack_rx(lk, segs, True)
        if down:
            segs = _segments(down)
            lk.srv_owed = 0
            self._air(0, down + segs * TCPIP_HDR)
            self._ack_rx(lk, segs, False)

    def _tls_handshake(self, lk, ctx, errs):
        """A full TLS 1.2 handshake (RFC 5246 §7.3) over lk's new TCP connection, at the record
        level: no cryptography; the flights' bytes on air, and the check that matters here: the
        chain the server presents ends in the CA file of SSL context ctx (its PEM's DER is the
        root the server's tls_hello() names). Returns (err, ms until the outcome): 0, errs[3]
        (handshake: no TLS there, not that CA, a version the server does not speak) or errs[4]
        (server authentication asked for and no CA file set or stored)."""
        c = self.ssl[ctx]
        conn = lk.conn
        hello = getattr(conn, "tls_hello", None)
        self._flight(lk, TLS_CLIENT_HELLO, 0)
        self._radio()
        if hello is None:
            # a server that speaks no TLS takes the ClientHello for garbage of its own protocol
            # and answers nothing: the negotiation runs out (<negotiatetime>, ASSUMED)
            self.tls_refused += 1
            return errs[3], c["negotiatetime"] * 1000
        info = hello(lk.host if c["enableSNI"] else None)
        self._flight(lk, 0, TLS_SERVER_HELLO + info["chain_bytes"] + TLS_SERVER_KX + TLS_SERVER_DONE)
        err = 0
        if c["sslversion"] not in (3, 4):  # SSL 3.0 .. TLS 1.1 only: the front wants TLS 1.2
            err = errs[3]
        elif c["authmode"] in (1, 2):  # server authentication (§19.2.1 <authmode>)
            name = c["cacert"]
            if not name or name not in self.certs:
                err = errs[4]
            elif _pem_der(self.certs[name]) != info["root"]:
                err = errs[3]
        if err:
            self._flight(lk, TLS_ALERT_PLAIN, 0)  # fatal unknown_ca (RFC 5246 §7.2.2), then close
            conn.tls_alert("unknown_ca" if err == errs[3] else "no CA set")
            self.tls_refused += 1
            return err, self._rand(200, 500)
        self._flight(lk, TLS_CLIENT_FINISH, TLS_SERVER_FINISH)
        conn.tls_done()
        self.tls_handshakes += 1
        return 0, self._rand(300, 700)

    def _abandon(self, lk):
        """A connection given up after its TCP connect (a refused handshake): FIN exchange."""
        if lk.conn is not None:
            self._conn_close(lk)
            self._air(2 * TCPIP_HDR, TCPIP_HDR)
        lk.state = "closed"

    def _close_up(self, lk):
        """We close an open connection: close_notify on TLS (RFC 5246 §7.2.1), FIN exchange."""
        if lk.state == "open":
            if lk.tls:
                self._air(TLS_ALERT_SEALED + TCPIP_HDR, TLS_ALERT_SEALED + TCPIP_HDR)
            self._air(2 * TCPIP_HDR, TCPIP_HDR)
            self._radio()
        lk.state = "closed"
        self._conn_close(lk)

    # ---- SSL sessions (AT+CCH*) ----
    def _cch_open_result(self, lk, ctx):
        n = lk.n
        if self.cch[n] is not lk:
            return
        if lk.state != "opening":
            if lk.state == "closed":  # the network went while connecting
                self.cch[n] = None
                self.cch_ctx[n] = None
                self._urc("+CCHOPEN: %d,%d" % (n, 9))  # "Network error"
            return
        err = self._tcp_connect(lk, CCH_ERRS, 40010 + n)
        wait = 0
        if not err and lk.tls:
            lk.state = "opening"  # no application data before the handshake ends
            err, wait = self._tls_handshake(lk, ctx, CCH_ERRS)
            if not err:
                lk.state = "open"
        self._radio()
        if err:
            self._abandon(lk)

        def report():
            if self.cch[n] is not lk:
                return
            if err:
                self.cch[n] = None
                self.cch_ctx[n] = None  # cleared after a failed open (§19.2.10)
            self._urc("+CCHOPEN: %d,%d" % (n, err))

        if wait:
            self._later(wait, report)
        else:
            report()

    def _cch_rx(self, lk, data):
        """Data for an SSL session: cached and announced once (manual receive, <recv_mode> 1),
        or handed over at once ('+CCHRECV: DATA,<s>,<len>' + the bytes, <recv_mode> 0)."""
        if self.cch_set[1]:
            lk.rx += data
            if not lk.notified:
                lk.notified = True
                self._urc("+CCHEVENT: %d,RECV EVENT" % lk.n)
        else:
            self._urc_raw(("\r\n+CCHRECV: DATA,%d,%d\r\n" % (lk.n, len(data))).encode() + data)

    def _cch_sent(self, n, data):
        lk = self.cch[n]
        self._out(b"\r\nOK\r\n", self._rand(5, 30))
        if lk is None or lk.state != "open" or lk.conn is None:
            self._urc("+CCHSEND: %d,%d" % (n, CCH_PEER), self._rand(20, 60))
            return
        if self.cch_set[0]:
            self._urc("+CCHSEND: %d,0" % n, self._rand(20, 60))
        self._up(lk, data)

    def _cert_stored(self, name, data):
        self.certs[name] = data
        self._out(b"\r\nOK\r\n", self._rand(5, 30))

    # ---- the HTTP service (AT+HTTP*) ----
    def _http_drop_conn(self, graceful=True):
        h = self.http
        lk = h.conn if h is not None else None
        if lk is None:
            return
        h.conn = None
        if graceful:
            self._close_up(lk)
        else:
            lk.state = "closed"
            self._conn_close(lk)

    def _http_go(self, g):
        """The request of the action g: on the connection kept from the last one if it goes to
        the same server and is still up (HTTP/1.1 persistent connections, RFC 9112 §9.3; ASSUMED
        the module keeps it between actions until AT+HTTPTERM), else on a new one."""
        h = self.http
        if h is None or h.gen != g or h.pending is None:
            return
        tls, host, port, target = _parse_url(h.url)
        lk = h.conn
        if lk is not None and (h.key != (tls, host, port) or lk.state != "open"):
            self._http_drop_conn()
            lk = None
        if lk is not None:
            self._http_send(g)
            return
        lk = _Link(0, host, port, "http", tls)
        h.conn = lk
        h.key = (tls, host, port)
        err = self._tcp_connect(lk, HTTP_ERRS, 40020)
        wait = self._rand(100, 300)
        if not err and tls:
            lk.state = "opening"
            err, w = self._tls_handshake(lk, h.sslcfg, HTTP_ERRS)
            wait += w
            if not err:
                lk.state = "open"
        self._radio()
        if err:
            self._abandon(lk)
            h.conn = None
            self._later(wait, lambda: self._http_done(err, g))
        else:
            self._later(wait, lambda: self._http_send(g))

    def _http_send(self, g):
        h = self.http
        if h is None or h.gen != g or h.pending is None:
            return
        lk = h.conn
        if lk is None or lk.state != "open":
            self._http_done(HTTP_CLOSED, g)
            return
        tls, host, port, target = _parse_url(h.url)
        hostport = host if port == (443 if tls else 80) else "%s:%d" % (host, port)
        # the request line and the headers the module writes (ASSUMED: Host and Accept, plus
        # what AT+HTTPPARA="USERDATA" adds; the manual does not list them)
        req = "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\n" % (target, hostport, h.accept)
        if h.userdata:
            req += h.userdata + "\r\n"
        lk.rx = bytearray()
        self.http_requests += 1
        self._up(lk, (req + "\r\n").encode())
        self._later(h.recvto * 1000, lambda: self._http_timeout(g))

    def _http_timeout(self, g):
        h = self.http
        if h is not None and h.gen == g and h.pending is not None:
            self._http_drop_conn()
            self._http_done(HTTP_TIMEOUT, g)

    def _http_rx(self, lk):
        """The server's answer: status line, headers, a body of Content-Length bytes (or up to
        the close without one). A whole answer ends the action: `+HTTPACTION: 0,<status>,<len>`;
        `Connection: close` closes the connection after it (`+HTTP_PEER_CLOSED`, as the
        HTTP(S) app note §3 shows)."""
        h = self.http
        buf = lk.rx
        i = buf.find(b"\r\n\r\n")
        if i < 0 or h is None:
            return
        head = bytes(buf[:i])
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        length = None
        close = False
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            k = k.strip().lower()
            if k == b"content-length":
                length = _int(v.decode())
            elif k == b"connection" and v.strip().lower() == b"close":
                close = True
        if length is None:
            return  # the body runs to the close: _http_closed ends it
        if len(buf) < i + 4 + length:
            return
        body = bytes(buf[i + 4:i + 4 + length])
        lk.rx = buf[i + 4 + length:]
        if h.pending is None:
            return  # an answer nobody asked for
        h.head = head + b"\r\n\r\n"
        h.body = body
        self._http_done(_int(parts[1].decode()) if len(parts) > 1 else 600, h.gen)
        if close:
            self._http_drop_conn()
            self._urc("+HTTP_PEER_CLOSED")

    def _http_closed(self, lk):
        """The server closed the kept connection: an answer without a length ends here; an
        action under way fails with 704; else only the notice (§16.4)."""
        h = self.http
        if h is None:
            return
        h.conn = None
        if h.pending is not None:
            i = lk.rx.find(b"\r\n\r\n")
            if i >= 0:
                parts = bytes(lk.rx[:i]).split(b"\r\n")[0].split(b" ")
                h.head = bytes(lk.rx[:i + 4])
                h.body = bytes(lk.rx[i + 4:])
                self._http_done(_int(parts[1].decode()) if len(parts) > 1 else 600, h.gen)
            else:
                self._http_done(HTTP_CLOSED, h.gen)
        self._urc("+HTTP_PEER_CLOSED")

    def _http_done(self, code, g):
        """The action g ends: `+HTTPACTION: <method>,<status or errcode>,<datalen>` (§16.2.4)."""
        h = self.http
        if h is None or h.gen != g or h.pending is None:
            return
        method = h.pending
        h.pending = None
        if code >= 600:
            h.head = b""
            h.body = b""
        self._urc("+HTTPACTION: %d,%d,%d" % (method, code, len(h.body)))

    # ================================================================ voice calls
    def _note(self, person, number, event, detail=""):
        if self.people is not None:
            self.people.note(person, number, event, detail)

    def _wire(self, direction, channel, peer, data):
        if self.wire is not None:
            self.wire(direction, channel, peer, data)

    def _reachable(self):
        """The network can reach the watch (and the watch the network) now."""
        return self.state == "on" and self.registered and self.world.coverage_at()

    def _clcc_line(self, c):
        return '+CLCC: 1,%d,%d,0,0,"%s",%d,""' % (0 if c.mo else 1, c.stat, c.number, c.type)

    def _set_stat(self, c, stat):
        c.stat = stat
        if self.clcc_n:
            self._event(self._clcc_line(c))
        self._meter()

    def _secs(self, c):
        """Seconds since VOICE CALL: BEGIN (0 for a call never answered)."""
        return 0 if c.begin_ms is None else (self.vt.ms - c.begin_ms) // 1000

    def _duration(self, c):
        t = self._secs(c)
        return "%02d%02d%02d" % (t // 3600, t // 60 % 60, t % 60)

    def _end(self, c, lines, wire=None, event=None, detail=""):
        """Call c is over: its result strings, then the CLCC disconnect, RI high."""
        if self.call is not c:
            return
        self.call = None
        self._stop_ring(c)
        if self._reachable():  # the network releases the call: connected-mode tail
            self._radio()
        for line in lines:
            self._event(line)
        self._set_stat(c, 6)
        if wire is not None:
            self._wire(wire[0], "call", c.peer, wire[1])
        if event is not None:
            self._note(c.person, c.number, event, detail)

    def _talked(self, c):
        return "" if c.begin_ms is None else str(self._secs(c))

    def _remote_lines(self, c):
        """What the watch sees when the far end (or the network) ends call c."""
        out = []
        if c.begin_ms is not None and self.remote_end != "no_carrier":
            out.append("VOICE CALL: END: %s" % self._duration(c))
        if c.begin_ms is None or self.remote_end != "end":
            out.append("NO CARRIER")
        return out

    def _begin(self, c):
        if self.call is not c:
            return
        c.begin_ms = self.vt.ms
        self._event("VOICE CALL: BEGIN")
        self._set_stat(c, 0)

    def _drop_call(self):
        """Power cycle: the call is gone without a word on the UART."""
        c = self.call
        if c is None:
            return
        self.call = None
        self._stop_ring(c)
        self._note(c.person, c.number, "dropped", self._talked(c))

    def _call_lost(self, c):
        """Coverage gone or radio off: ends as if the far end hung up (ASSUMED)."""
        self._end(c, self._remote_lines(c), None, "dropped", self._talked(c))

    # ---- incoming ----
    def _incoming_call(self, person, spec):
        number = person.number
        if not self._reachable() or not self.has_voice:
            why = "off" if self.state != "on" else "no network" if self.has_voice else "no voice"
            self._note(person, number, "unreachable", why)
            return
        if self.call is not None:  # call waiting off: the caller hears busy, the watch nothing
            self._note(person, number, "watch_busy")
            return
        c = _Call(False, number, person, spec["withheld"])
        c.talk_s = spec["talk_s"]
        self.call = c
        self.calls_in += 1
        c.ringing = True
        self._radio()
        self._wire("down", "call", c.peer, b"ring")
        self._note(person, number, "rang")
        self._ring(c, True)
        self._later(spec["ring_s"] * 1000, lambda: self._gave_up(c))

    def _ring(self, c, first=False):
        if self.call is not c or not c.ringing:
            return
        self._ring_low = True
        self._ri_apply()
        self._urc("RING", 0, 0)  # no CFGRI pulse: the ring pattern owns RI
        if self.clip:
            if c.withheld:
                self._urc('+CLIP: "",128,,,"",1', 0, 0)
            else:
                self._urc('+CLIP: "%s",%d,,,"",0' % (c.number, c.type), 0, 0)
        if first and self.clcc_n:
            self._urc(self._clcc_line(c))
        self._later(RING_LOW_MS, lambda: self._ring_high(c))
        self._later(RING_PERIOD_MS, lambda: self._ring(c))

    def _ring_high(self, c):
        if self.call is c and c.ringing:
            self._ring_low = False
            self._ri_apply()

    def _stop_ring(self, c):
        if c.ringing:
            c.ringing = False
            self._ring_low = False
            self._ri_apply()

    def _gave_up(self, c):
        if self.call is c and c.ringing:
            self._end(c, ["NO CARRIER"], ("down", b"hangup"), "gave_up")

    def _answer(self):
        c = self.call
        if c is None:
            return _NO_CARRIER
        if c.mo or not c.ringing:
            return 3
        self._stop_ring(c)
        self._wire("up", "call", c.peer, b"answer")
        self._note(c.person, c.number, "watch_answered")

        def begin():
            if self.call is c:
                self._begin(c)
                self._later(c.talk_s * 1000, lambda: self._far_hangup(c))

        self._later(self._rand(ANSWER_MS[0], ANSWER_MS[1]), begin)
        return None

    def _far_hangup(self, c):
        if self.call is c and c.stat == 0:
            self._end(c, self._remote_lines(c), ("down", b"hangup"), "hung_up", self._talked(c))

    # ---- outgoing ----
    def _dial(self, s):
        """ATD<number>; (A76-ATM §2.2.1)."""
        if not s.endswith(";"):
            return _ERROR  # data calls are not emulated: the ';' makes it a voice call
        s = s[:-1]
        while s and s[-1] in "IiGg":
            s = s[:-1]
        for i in range(len(s)):
            if s[i] in "Pp":  # DTMF to send once connected: not emulated (ASSUMED)
                s = s[:i]
                break
        number = ""
        for ch in s:
            if ch in ",TtW!@":
                continue
            number += ch
        body = number[1:] if number[:1] == "+" else number
        if not body:
            return _ERROR
        for ch in body:
            if ch not in "0123456789*#ABC":
                return _ERROR
        if self.call is not None:
            return 3
        person = self.people.find(number) if self.people is not None else None
        c = _Call(True, number, person)
        self.call = c
        self._set_stat(c, 2)
        if not self._reachable():
            self._later(self._rand(NO_NET_CALL_MS[0], NO_NET_CALL_MS[1]),
                        lambda: self._end(c, ["NO CARRIER"]))
            return None
        self.calls_out += 1
        self._radio()
        self._wire("up", "call", number, b"dial")
        mode = person.mode if person is not None else "no_answer"
        self._note(person, number, "called_by_watch", mode)
        if mode == "busy":
            self._later(self._rand(BUSY_MS[0], BUSY_MS[1]),
                        lambda: self._end(c, ["BUSY"], ("down", b"busy"), "busy"))
            return None
        self._later(self._rand(ALERT_MS[0], ALERT_MS[1]), lambda: self._alerting(c))
        return None

    def _alerting(self, c):
        if self.call is not c or c.stat != 2:
            return
        self._set_stat(c, 3)
        self._wire("down", "call", c.number, b"alerting")
        p = c.person
        limit = (p.ring_limit_s if p is not None else 60) * 1000
        if p is not None and p.mode in ("answer", "voicemail") and p.rings * CALLEE_RING_MS < limit:
            self._later(p.rings * CALLEE_RING_MS, lambda: self._callee_answers(c))
        self._later(limit, lambda: self._no_answer(c))

    def _no_answer(self, c):
        if self.call is c and c.stat == 3:
            self._end(c, ["NO ANSWER"], ("down", b"no answer"), "no_answer")

    def _callee_answers(self, c):
        if self.call is not c or c.stat != 3:
            return
        p = c.person
        self._wire("down", "call", c.number, b"answer")
        self._note(p, c.number, "answered" if p.mode == "answer" else "voicemail")
        self._begin(c)
        if p.key is not None and p.key_after_s < p.talk_s:
            self._later(p.key_after_s * 1000, lambda: self._key(c, p.key))
        self._later(p.talk_s * 1000, lambda: self._far_hangup(c))

    def _key(self, c, key):
        if self.call is c and c.stat == 0:
            self._urc("+RXDTMF: %s" % key)
            self._wire("down", "call", c.number, ("key %s" % key).encode())
            self._note(c.person, c.number, "key", key)

    # ---- the watch hangs up ----
    def _hang_up(self):
        """AT+CHUP, or ATH after AT+CVHU=0."""
        c = self.call
        if c is None:
            return
        if not c.mo and c.begin_ms is None:  # ringing (or being answered): rejected
            self._end(c, [], ("up", b"reject"), "rejected")
            self._urc_after("VOICE CALL: END: 000000", CHUP_END_MS)
        elif c.begin_ms is None:  # dialing or alerting: cancelled
            self._end(c, [], ("up", b"hangup"), "cancelled")
            self._urc_after("VOICE CALL: END: 000000", CHUP_END_MS)
        else:
            t = self._talked(c)
            self._end(c, ["VOICE CALL: END: %s" % self._duration(c)], ("up", b"hangup"), "watch_hung_up", t)

    # ================================================================ SMS
    def sms_used(self):
        n = 0
        for m in self.sms:
            if m is not None:
                n += 1
        return n

    def _te(self, s):
        """An address string in the TE character set (A76-ATM <oa>/<da>/<sca>)."""
        if self.cscs == "UCS2":
            return _hex16(_utf16(s))
        return s  # digits and '+' are the same bytes in GSM and IRA

    def _present(self, text):
        """(dcs, length, body bytes) of a stored text in the current TE character set."""
        n = _septets(text)
        if n < 0:
            units = _utf16(text)
            return 8, 2 * len(units), _hex16(units).encode()
        cs = self.cscs
        if cs == "GSM":
            return 0, n, _gsm_bytes(text)
        if cs == "UCS2":
            return 0, n, _hex16(_utf16(text)).encode()
        out = bytearray()
        for ch in text:
            c = ord(ch)
            out.append(c if c < 128 else 63)
        return 0, n, bytes(out)

    def _sms_block(self, prefix, m):
        """CRLF, prefix + '"<oa>","","<scts>"[,<tooa>,<fo>,<pid>,<dcs>,"<sca>",<tosca>,<length>]',
        CRLF, the body, CRLF: one message as +CMT, +CMGR and +CMGL show it."""
        dcs, length, body = self._present(m.text)
        head = '%s"%s","","%s"' % (prefix, self._te(m.number), m.scts)
        if self.csdh:
            head += ',%d,4,0,%d,"%s",145,%d' % (_toa(m.number), dcs, self._te(SMSC), length)
        return b"\r\n" + head.encode() + b"\r\n" + body + b"\r\n"

    def _person_texts(self, person, text):
        self._note(person, person.number, "sms_sent", text)
        self._sms_try(person, text, _stamp(self.world), True)

    def _sms_try(self, person, text, scts, first):
        """The network offers a text to the watch; it keeps it and retries when it cannot."""
        if not self.has_sms:
            self._note(person, person.number, "unreachable", "no sms")  # lost (ASSUMED)
            return
        why = None
        mt = self.cnmi[1]
        store = mt != 2 or self.cmgf == 0
        if not self._reachable() or not self.sms_ready:
            why = "off" if self.state != "on" else "no network"
        elif store and self.sms_used() >= len(self.sms):
            why = "store full"
        if why is not None:
            if first:
                self._note(person, person.number, "sms_waiting", why)
            self.vt.after(SMS_RETRY_MS, lambda: self._sms_try(person, text, scts, False))
            return
        self._radio()
        self.sms_in += 1
        m = _Sms("REC UNREAD", person.number, scts, text)
        if store:
            i = self.sms.index(None)
            self.sms[i] = m
            if mt in (1, 3):
                self._urc('+CMTI: "SM",%d' % (i + 1), 0, RI_SMS_MS)
            detail = "SM,%d" % (i + 1)
        else:
            self._out(self._sms_block("+CMT: ", m), 0, True, RI_SMS_MS)
            detail = "CMT"
        self._wire("down", "sms", person.number, text.encode())
        self._note(person, person.number, "sms_delivered", detail)

    def _sms_input(self, data, i, n):
        """AT+CMGS text entry: bytes up to Ctrl-Z (send) or ESC (cancel)."""
        dm = self._sdm
        echo = bytearray()
        while i < n:
            b = data[i]
            i += 1
            if b == 0x1A or b == 0x1B:
                self._sdm = None
                if echo:
                    self._out(bytes(echo), 1)
                if b == 0x1B:
                    self._out(b"\r\nOK\r\n", self._rand(5, 30))
                else:
                    self._sms_submit(dm[0], bytes(dm[1]), dm[2])
                return i
            if len(dm[1]) >= MAX_LINE:
                dm[2] = True
                self.dropped_bytes += 1
                continue
            dm[1].append(b)
            if b == 13:
                if echo:
                    self._out(bytes(echo), 1)
                    echo = bytearray()
                self._out(b"\r\n> ", 1)
            elif self.echo:
                echo.append(b)
        if echo:
            self._out(bytes(echo), 1)
        return i

    def _sms_text(self, raw):
        """The entered bytes -> str, or None if they are not a valid single SMS."""
        try:
            s = raw.decode()
        except Exception:
            s = None
        if self.csmp[3] == 8:  # UCS2: hex of UTF-16BE
            text = _unhex16(s) if s is not None else None
            if text is None or 2 * len(_utf16(text)) > SMS_MAX_OCTETS:
                return None
            return text
        if self.cscs == "UCS2":
            text = _unhex16(s) if s is not None else None
        elif self.cscs == "GSM":
            out = []
            for b in raw:
                if b >= 128:
                    return None
                out.append(_GSM_BASIC[b])
            text = "".join(out)
        else:
            for b in raw:
                if b >= 128:
                    return None
            text = s
        if text is None:
            return None
        n = _septets(text)
        if n < 0 or n > SMS_MAX_SEPTETS:
            return None
        return text

    def _sms_submit(self, da, raw, overflow):
        text = None if overflow else self._sms_text(raw)
        if text is None:
            self._out(self._final(_cms(305)), self._rand(5, 30))
            return
        self._busy = True
        if not self._reachable():
            delay = self._rand(SMS_NO_NET_MS[0], SMS_NO_NET_MS[1])
        else:
            lo, hi = SMS_SUBMIT_MS
            if self._sms_draws.draw(1, self.sms_slow_one_in) == 1:
                lo, hi = SMS_SUBMIT_SLOW_MS
            delay = self._sms_draws.draw(lo, hi)
            self._radio(delay)  # connected until the network's answer, not just a burst

        def done():
            self._busy = False
            self._last_io = self.vt.ms  # the result goes out: idle counts from here
            self._arm_sleep()
            if not self._reachable():
                self._out(self._final(_cms(331)), 0)
                return
            self._mr = (self._mr + 1) & 255
            self.sms_out += 1
            self._radio()
            self._out(("\r\n+CMGS: %d\r\n\r\nOK\r\n" % self._mr).encode(), 0)
            self._wire("up", "sms", da, text.encode())
            person = self.people.find(da) if self.people is not None else None
            self._note(person, da, "sms_received", text)

        self._later(delay, done)

    # ================================================================ GNSS
    def _gnss_ready(self):
        self.gnss_ready_ms = self.vt.ms
        self._urc("+CGNSSPWR: READY!")

    def gnss_plan(self):
        """(start kind, ms of the first fix) of the fix search under the sky the receiver is
        under now: kind "hot" | "warm" | "cold" | "assisted"; None while GNSS is off or loading,
        or indoors."""
        if not self.gnss_on or self.gnss_ready_ms is None:
            return None
        since = self.world.sky_since(self.vt.ms)
        if since is None:
            return None
        start = since if since > self.gnss_ready_ms else self.gnss_ready_ms
        hot, warm, cold, assisted = self.ttff_ms
        kind, at = "cold", start + cold
        if self.last_fix_ms is not None:
            age = start - self.last_fix_ms
            if age <= HOT_WINDOW_MS:
                kind, at = "hot", start + hot
            elif age <= WARM_WINDOW_MS:
                kind, at = "warm", start + warm
        a = self.agps_at_ms
        if a is not None:
            s2 = start if start > a else a
            if s2 - a <= AGPS_VALID_MS and s2 + assisted < at:
                kind, at = "assisted", s2 + assisted
        return kind, at

    def gnss_fix(self):
        """The fix the receiver has now (world.gnss_at dict) or None."""
        now = self.vt.ms
        plan = self.gnss_plan()
        if plan is None or now < plan[1]:
            return None
        g = self.world.gnss_at(now)
        if g is None:
            return None
        self.last_fix_ms = now
        return g

    def _gnss_line(self, g):
        v = self.variant
        if g is None:
            return "+CGNSSINFO: " + (",,,,,,,,,,,,,,," if v == "manual" else ",,,,,,,,")
        y, mo, d, h, mi, s = clock.to_parts(self.world.utc())
        date = "%02d%02d%02d" % (d, mo, y % 100)
        utc = "%02d%02d%02d.00" % (h, mi, s)
        lat, lon = g["lat"], g["lon"]
        ns = "N" if lat >= 0 else "S"
        ew = "E" if lon >= 0 else "W"
        lat, lon = abs(lat), abs(lon)
        n = g["sats"]
        h10 = g["hdop10"]
        p10 = h10 * 13 // 10
        v10 = h10 * 8 // 10
        alt = "%d.0" % g["alt"]
        spd = g["speed"]  # 0.1 km/h
        if v == "manual":
            knots10 = (spd * 1000 + 926) // 1852
            return "+CGNSSINFO: 3,%02d,%02d,00,%s,%s,%s,%s,%s,%s,%s,%s,%d.0,%s,%s,%s" % (
                n - n // 3, n // 3, _ddmm(lat, 2), ns, _ddmm(lon, 3), ew, date, utc, alt,
                _dec(knots10, 10, 1), g["course"], _dec(p10, 10, 1), _dec(h10, 10, 1), _dec(v10, 10, 1))
        knots = _dec((spd * 100000 + 926) // 1852, 1000, 3)
        course = "" if spd == 0 else "%d.00" % g["course"]
        if v == "foreign":
            return "+CGNSSINFO: 3,%02d,,%02d,00,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,0" % (
                n - n // 3, n // 3, _dec(lat * 10, 10000000, 7), ns, _dec(lon * 10, 10000000, 7), ew,
                date, utc, alt, knots, course, _dec(p10 * 10, 100, 2), _dec(h10 * 10, 100, 2),
                _dec(v10 * 10, 100, 2))
        return "+CGNSSINFO: 3,%02d,%02d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%02d" % (
            n - n // 3, n // 3, _dec(lat, 1000000, 6), ns, _dec(lon, 1000000, 6), ew, date, utc, alt,
            knots, course, _dec(p10, 10, 1), _dec(h10, 10, 1), _dec(v10, 10, 1), n)

    # ================================================================ stats
    def stats(self):
        return {"commands": self.commands, "bytes_to_host": self.bytes_to_host,
                "bytes_from_host": self.bytes_from_host, "dropped_bytes": self.dropped_bytes,
                "urcs": self.urcs, "boots": self.boots, "calls_in": self.calls_in,
                "calls_out": self.calls_out, "sms_in": self.sms_in, "sms_out": self.sms_out,
                "sms_stored": self.sms_used(), "gnss_powerons": self.gnss_powerons,
                "agps_downloads": self.agps_downloads, "agps_bytes": self.agps_bytes,
                "air_up": self.air_up, "air_down": self.air_down,
                "tls_handshakes": self.tls_handshakes, "tls_refused": self.tls_refused,
                "http_requests": self.http_requests}


def _segments(n):
    """TCP segments for n payload bytes."""
    return (n + SEG_DATA - 1) // SEG_DATA


def _scenario_option(world, key, default):
    """A modem option from the scenario: its "modem" keys, else its "device" keys."""
    sc = getattr(world, "scenario", None) or {}
    for part in ("modem", "device"):
        d = sc.get(part) or {}
        if key in d:
            return d[key]
    return default


def _ddmm(udeg, deg_digits):
    """micro-degrees (>= 0) -> 'ddmm.mmmmmm' / 'dddmm.mmmmmm' (exact: 1e-6 min = 1/60 udeg)."""
    deg = udeg // 1000000
    mu = udeg % 1000000 * 60  # micro-minutes
    return "%0*d%02d.%06d" % (deg_digits, deg, mu // 1000000, mu % 1000000)


# ==================================================================== command handlers
# Each handler(emu, kind, args) appends info lines with emu._info() and returns None (OK), a CME
# error number, _ERROR, _PROMPT (data mode) or _LATER (it schedules its own final result).


def _h_at_ok(e, kind, args):
    return None


def _h_cpin(e, kind, args):
    if kind == "read":
        if not e.sim_ready:
            return 13  # early after boot: SIM failure until +CPIN: READY (§1.1 log)
        e._info("+CPIN: READY")
        return None
    return 3 if kind == "write" else _ERROR


def _csq(e):
    c = e.world.cell_at() if e.registered else None
    if c is None:
        return 99
    rssi = c["rsrp"] + 25
    v = (rssi + 113) // 2
    return 0 if v < 0 else 31 if v > 31 else v


def _h_csq(e, kind, args):
    if kind == "exec":
        e._info("+CSQ: %d,99" % _csq(e))
        return None
    if kind == "test":
        e._info("+CSQ: (0-31,99),(0-7,99)")
        return None
    return _ERROR


def _reg_handler(name, attr):
    def h(e, kind, args):
        if kind == "read":
            n = getattr(e, attr)
            st = e._reg_stat()
            if n == 2 and st in (1, 5):
                c = e.world.cell_at()
                if c is not None:
                    act = ",7" if name == "+CEREG" else ""
                    e._info('%s: %d,%d,"%04X","%07X"%s' % (name, n, st, c["tac"], c["cid"], act))
                    return None
            e._info("%s: %d,%d" % (name, n, st))
            return None
        if kind == "write":
            v = _int(args[0]) if args[0] else 0
            if v not in (0, 1, 2):
                return _ERROR
            setattr(e, attr, v)
            return None
        if kind == "test":
            e._info("%s: (0-2)" % name)
            return None
        return _ERROR

    return h


def _h_cops(e, kind, args):
    if kind == "read":
        if not e.registered:
            e._info("+COPS: 0")
            return None
        mcc, mnc, name = e.world.operator()
        if name:
            e._info('+COPS: 0,0,"%s",7' % name)
        else:
            e._info('+COPS: 0,2,"%d%02d",7' % (mcc, mnc))
        return None
    if kind == "write":
        return None
    return _ERROR


def _h_cgsn(e, kind, args):
    if kind != "exec" and kind != "test":
        return _ERROR
    if kind == "exec":
        e._info(e.imei)
    return None


def _h_simei(e, kind, args):
    if kind != "read":
        return _ERROR
    e._info("+SIMEI: %s" % e.imei)
    return None


def _h_ciccid(e, kind, args):
    if kind != "exec":
        return _ERROR
    if not e.sim_ready:
        return 13
    e._info("+ICCID: %s" % e.iccid)
    return None


def _h_simcomati(e, kind, args):
    if kind != "exec":
        return _ERROR
    # the revision lines are ASSUMED (LilyGO only tells users to send the command)
    e._info("Manufacturer: SIMCOM INCORPORATED")
    e._info("Model: %s" % e.model)
    e._info("Revision: %s" % REVISION)
    e._info("IMEI: %s" % e.imei)
    return None


def _h_cgmm(e, kind, args):
    if kind == "exec":  # the bare model line (A76-ATM §2.2.17)
        e._info(e.model)
    return None


def _h_cgmi(e, kind, args):
    e._info("SIMCOM INCORPORATED")
    return None


def _h_cgmr(e, kind, args):
    e._info("+CGMR: %s" % REVISION)
    return None


def _h_cclk(e, kind, args):
    if kind == "write":
        return None  # accepted; the network time wins at the next registration
    if kind != "read":
        return _ERROR
    if e.nitz:
        e._info('+CCLK: "%s"' % _stamp(e.world))
    else:
        up = (e.vt.ms - e.boot_ms) // 1000
        days, secs = divmod(up, 86400)
        y, mo, d = clock.civil_from_days(days)
        e._info('+CCLK: "%02d/%02d/%02d,%02d:%02d:%02d+00"' % (y % 100, mo, d, secs // 3600,
                                                                secs // 60 % 60, secs % 60))
    return None


def _h_cfun(e, kind, args):
    if kind == "read":
        e._info("+CFUN: %d" % e.cfun)
        return None
    if kind != "write":
        return _ERROR
    f = _int(args[0])
    rst = _int(args[1]) if len(args) > 1 and args[1] else 0
    if f == 6 or (f == 1 and rst == 1):
        e._later(100, e.reboot)
        return None
    if f in (0, 4, 7, 8):
        e.cfun = f
        e._lose_network(urc=False)
        return None
    if f == 1:
        if e.cfun != 1:
            e.cfun = 1
            e._later(REREG_MS, e._try_register)
        return None
    return _ERROR


def _h_cpof(e, kind, args):
    if kind != "exec":
        return _ERROR
    e._resp += b"\r\nOK\r\n"
    due = e._out(bytes(e._resp), e._rand(5, 30))
    e._resp = bytearray()
    e._later(due - e.vt.ms + 1, e._go_off)
    return _LATER


def _h_creset(e, kind, args):
    if kind != "exec":
        return _ERROR
    e._later(100, e.reboot)
    return None


def _flag_handler(name, attr, allowed, read_tail="", full=False, test=None):
    """AT<name>? -> '<name>: <v><read_tail>'; AT<name>=<v> with v in allowed. The test form
    '<name>: <test>' where test is given (full: '(lo-hi)'), else ERROR. With full also the bare
    execute form, which restores _PHONE_DEFAULTS[attr]."""
    if full and test is None:
        test = "(%d-%d)" % (allowed[0], allowed[-1])

    def h(e, kind, args):
        if kind == "read":
            e._info("%s: %d%s" % (name, getattr(e, attr), read_tail))
            return None
        if kind == "write":
            v = _int(args[0])
            if v not in allowed:
                return _ERROR
            setattr(e, attr, v)
            if attr == "csclk":
                e._arm_sleep()
            return None
        if kind == "test" and test is not None:
            e._info("%s: %s" % (name, test))
            return None
        if kind == "exec" and full:
            setattr(e, attr, _PHONE_DEFAULTS[attr])
            return None
        return _ERROR

    return h


def _h_cgdcont(e, kind, args):
    if kind == "write":
        if len(args) >= 3:
            e.apn = args[2]
        return None
    if kind == "read":
        e._info('+CGDCONT: 1,"IP","%s","0.0.0.0",0,0,0,0' % e.apn)
        return None
    return _ERROR


def _h_cgatt(e, kind, args):
    if kind == "read":
        e._info("+CGATT: %d" % (1 if e.registered else 0))
        return None
    return None if kind == "write" else _ERROR


def _h_cgnsspwr(e, kind, args):
    # A76-ATM §24.2.1; old firmware (before 27/9/21, notes 3-4): the power field only
    old = e.gnss_firmware == "old"
    if kind == "test":
        e._info("+CGNSSPWR: (0,1)" if old else "+CGNSSPWR: (0,1),(0,1),(0,1),(0,1)")
        return None
    if kind == "read":
        if old:
            e._info("+CGNSSPWR: %d" % (1 if e.gnss_on else 0))
        else:
            e._info("+CGNSSPWR: %d,%d,%d,%d" % (1 if e.gnss_on else 0, e.gnss_ap_flash,
                                                e.gnss_dynamic, e.gnss_loader))
        return None
    if kind != "write":
        return _ERROR
    v = [_int(a) for a in args]
    if len(v) > (1 if old else 4):
        return _ERROR
    for x in v:
        if x not in (0, 1):
            return _ERROR
    flash = v[1] if len(v) > 1 else 0
    e.gnss_ap_flash = flash
    if len(v) > 2:
        e.gnss_dynamic = v[2]
    if len(v) > 3:
        e.gnss_loader = v[3]
    if v[0] == 1:
        if e.gnss_on:
            return None
        e.gnss_on = True
        e.gnss_powerons += 1
        e._gnss_gen += 1
        # the chip starts empty, or with what AP_Flash holds when asked to load it
        e.last_fix_ms, e.agps_at_ms = e.gnss_store if flash and e.gnss_store else (None, None)
        if old:
            e.gnss_ready_ms = e.vt.ms  # no dynamic loading, no READY: usable at once
        else:
            e.gnss_ready_ms = None
            gg = e._gnss_gen

            def ready():
                if e.gnss_on and gg == e._gnss_gen:
                    e._gnss_ready()

            e._later(GNSS_LOAD_MS, ready)
        e._meter()
        return None
    if e.gnss_on:
        e.gnss_fix()  # a fix held right now is the chip's latest
        if flash:
            e.gnss_store = (e.last_fix_ms, e.agps_at_ms)
    e.gnss_on = False
    e.gnss_ready_ms = None
    e.last_fix_ms = None
    e.agps_at_ms = None
    e._gnss_gen += 1
    e._meter()
    return None


def _h_cgpscold(e, kind, args):
    if kind != "exec":
        return _ERROR
    e.last_fix_ms = None
    e.agps_at_ms = None
    if e.gnss_on and e.gnss_ready_ms is not None:
        e.gnss_ready_ms = e.vt.ms
    return None


def _h_cagps(e, kind, args):
    # A76-ATM §24.2.15: valid after READY; OK, then +AGPS: success. / +AGPS: <code>.
    if kind == "test":
        return None
    if kind != "exec" or not e.gnss_on or e.gnss_ready_ms is None or e._agps_busy:
        return _ERROR
    e._agps_busy = True
    gg = e._gnss_gen

    def online():
        return e.net == 2 and e.registered and e.world.coverage_at()

    def failed(code):
        e._agps_busy = False
        e._urc("+AGPS: %d." % code)

    if not online():
        e._later(AGPS_FAIL_MS, lambda: failed(101))
        return None
    e._radio(e.agps_ms + ACTIVE_MS)

    def done():
        if not online():
            failed(105)
            return
        e._agps_busy = False
        e.agps_downloads += 1
        e.agps_bytes += AGPS_BYTES
        e._air_exchange(AGPS_HOST, AGPS_REQUEST, AGPS_BYTES)
        if e.gnss_on and gg == e._gnss_gen:
            e.agps_at_ms = e.vt.ms
        e._urc("+AGPS: success.")

    e._later(e.agps_ms, done)
    return None


def _h_cgpshot(e, kind, args):
    return None if kind == "exec" else _ERROR


def _h_accept(e, kind, args):
    return None


def _h_cgnssinfo(e, kind, args):
    if kind == "exec":
        g = e.gnss_fix()
        # a real A7670 without a fix sometimes answers just OK (hardware.md §1.3): 1 in 4 here
        if g is not None or e._rand(0, 3):
            e._info(e._gnss_line(g))
        return None
    if kind == "write":
        return None  # periodic reports: accepted, not emulated
    return _ERROR


def _h_cgpsinfo(e, kind, args):
    if kind != "exec":
        return _ERROR
    g = e.gnss_fix()
    if g is None:
        e._info("+CGPSINFO: ,,,,,,,,")
        return None
    y, mo, d, h, mi, s = clock.to_parts(e.world.utc())
    knots10 = (g["speed"] * 1000 + 926) // 1852
    e._info("+CGPSINFO: %s,%s,%s,%s,%02d%02d%02d,%02d%02d%02d.0,%d.0,%s,%d" % (
        _ddmm(abs(g["lat"]), 2), "N" if g["lat"] >= 0 else "S", _ddmm(abs(g["lon"]), 3),
        "E" if g["lon"] >= 0 else "W", d, mo, y % 100, h, mi, s, g["alt"], _dec(knots10, 10, 1), g["course"]))
    return None


def _h_cpsi(e, kind, args):
    if kind != "read":
        return _ERROR
    c = e.world.cell_at() if e.registered else None
    if c is None:
        e._info("+CPSI: NO SERVICE, Low Power Mode")  # §1.4 (A76xx no-service text)
        return None
    rsrp = c["rsrp"]
    rsrq = -6 + (rsrp + 80) // 6
    if rsrq < -20:
        rsrq = -20
    if rsrq > -3:
        rsrq = -3
    rssi = rsrp + 25
    snr = 10 + (rsrp + 100) // 5
    snr = 0 if snr < 0 else 30 if snr > 30 else snr
    e._info("+CPSI: LTE,Online,%d-%02d,0x%04X,%d,%d,EUTRAN-BAND20,6300,5,5,%d,%d,%d,%d" % (
        c["mcc"], c["mnc"], c["tac"], c["cid"], c["cid"] % 504, 2 * rsrq + 40, rsrp + 140, rssi + 110, snr))
    return None


def _h_netopen(e, kind, args):
    # A76-ATM §15.2.1
    if kind == "read":
        e._info("+NETOPEN: %d" % (1 if e.net in (2, 3) else 0))  # half-open still reads 1 (§15.4)
        return None
    if kind != "exec":
        return _ERROR
    if e.net:
        e._info("+IP ERROR: Network is already opened")
        return _ERROR
    # its AT+CIPTIMEOUT limit passed: +NETOPEN: <ERR_TIMEOUT> (ASSUMED form)
    e._net_open("+NETOPEN: 0", "+NETOPEN: 1", e.cip_to[0], "+NETOPEN: %d" % ERR_TIMEOUT)
    return None


def _h_netclose(e, kind, args):
    # A76-ATM §15.2.2: OK, a +CIPCLOSE per open link, +NETCLOSE: 0; not open: +NETCLOSE: <err>, ERROR
    if kind == "test":
        return None
    if kind != "exec":
        return _ERROR
    if e.net == 0:
        e._info("+NETCLOSE: 2")  # ASSUMED: network not opened
        return _ERROR
    e.net = 0
    for i in range(LINKS):
        lk = e.links[i]
        if lk is not None and lk.state == "open":
            e._urc_after("+CIPCLOSE: %d,0" % i, 0)
    e._drop_links()
    e._urc_after("+NETCLOSE: 0", e._rand(100, 300))
    return None


def _h_ipaddr(e, kind, args):
    if kind != "exec" or e.net != 2:
        return _ERROR
    e._info("+IPADDR: %s" % LOCAL_IP)
    return None


def _h_cipopen(e, kind, args):
    # A76-ATM §15.2.3
    if kind == "read":
        for i in range(LINKS):
            lk = e.links[i]
            if lk is not None and lk.state == "open":
                e._info('+CIPOPEN: %d,"TCP","%s",%d,-1' % (i, lk.ip, lk.port))
            else:
                e._info("+CIPOPEN: %d" % i)
        return None
    if kind != "write" or len(args) < 4:
        return _ERROR
    n = _int(args[0])
    if n < 0 or n >= LINKS:
        e._info("+IP ERROR: Invalid parameter")  # case 2
        return _ERROR
    if args[1].upper() != "TCP":
        return _ERROR
    port = _int(args[3])
    # case 3, refused at once: the network not (or only half) open, the link in use
    if e.net != 2:
        e._info("+CIPOPEN: %d,%d" % (n, 1 if e.net == 3 else 2))
        return _ERROR
    old = e.links[n]
    if old is not None and old.state != "closed":
        e._info("+CIPOPEN: %d,4" % n)
        return _ERROR
    # a link the server closed is free again; its unread bytes are gone (ASSUMED)
    lk = _Link(n, args[2], port)
    e.links[n] = lk
    delay = e._open_delay(1, 100, 300)
    limit = e.cip_to[1]
    if delay > limit:
        e._later(limit, lambda: e._cipopen_timeout(lk))
    else:
        e._later(delay, lambda: e._cipopen_result(lk))
    return None


def _h_cipsend(e, kind, args):
    # A76-ATM §15.2.4 case 3: "+CIPERROR: <err>" then ERROR when the link is not open or a
    # parameter is wrong (err 2 network not opened, 3 wrong parameter, 4 link not open: ASSUMED)
    if kind != "write" or len(args) < 2:
        return _ERROR
    n = _int(args[0])
    length = _int(args[1])
    if n < 0 or n >= LINKS or length < 1 or length > MAX_SEND:
        e._info("+CIPERROR: 3")
        return _ERROR
    lk = e.links[n]
    if e.net != 2 or lk is None or lk.state != "open":
        e._info("+CIPERROR: %d" % (2 if e.net in (0, 1) else 4))
        return _ERROR
    e._dm = [n, length, bytearray()]
    return _PROMPT


def _h_ciprxget(e, kind, args):
    if kind != "write":
        return _ERROR
    mode = _int(args[0])
    if mode in (0, 1) and len(args) == 1:
        e.rx_mode = mode
        return None
    if e.rx_mode != 1 or len(args) < 2:
        return _ERROR
    n = _int(args[1])
    if n < 0 or n >= LINKS:
        return _ERROR
    lk = e.links[n]
    if lk is None:
        if mode == 2:  # a link never opened: the TCPIP app note's example (§3) shows No data
            e._info("+IP ERROR: No data")
        return _ERROR
    if mode == 4:
        e._info("+CIPRXGET: 4,%d,%d" % (n, len(lk.rx)))
        return None
    if mode == 2:
        mx = _int(args[2]) if len(args) > 2 and args[2] else MAX_SEND
        if mx < 1 or mx > MAX_SEND:
            return _ERROR
        if not lk.rx:  # A76-ATM §15.2.5 (AT+CIPRXGET=2): "If the buffer is empty" -> an error
            e._info("+IP ERROR: No data")
            return _ERROR
        data = bytes(lk.rx[:mx])
        lk.rx = lk.rx[len(data):]
        e._info("+CIPRXGET: 2,%d,%d,%d" % (n, len(data), len(lk.rx)))
        e._resp += data
        e._host_read(lk, data)
        return None
    return _ERROR


def _h_cipclose(e, kind, args):
    if kind != "write":
        return _ERROR
    n = _int(args[0])
    if n < 0 or n >= LINKS:
        return _ERROR
    lk = e.links[n]
    if lk is None:
        e._info("+CIPCLOSE: %d,4" % n)  # ASSUMED: link not open
        return _ERROR
    e.links[n] = None
    if lk.state == "opening":
        lk.state = "cancelled"
    elif lk.state == "open":
        lk.state = "closed"
        e._conn_close(lk)
        e._radio()
        e._air(2 * TCPIP_HDR, TCPIP_HDR)  # FIN up (it carries any ACK owed), FIN+ACK down, ACK up
    e._urc_after("+CIPCLOSE: %d,0" % n, e._rand(20, 80))
    return None


def _h_ciptimeout(e, kind, args):
    # A76-ATM §15.2.12: the limits of AT+NETOPEN, AT+CIPOPEN, AT+CIPSEND, 3000..120000 ms each,
    # an empty field keeps its value; NO_SAVE
    if kind == "read":
        e._info("+CIPTIMEOUT: %d,%d,%d" % (e.cip_to[0], e.cip_to[1], e.cip_to[2]))
        return None
    if kind != "write" or len(args) > 3:
        return _ERROR
    v = list(e.cip_to)
    for i in range(len(args)):
        if args[i].strip():
            x = _int(args[i])
            if x < 3000 or x > 120000:
                return _ERROR
            v[i] = x
    e.cip_to = v
    return None


# ---- voice (§1.6) ----
_clcc_flag = _flag_handler("+CLCC", "clcc_n", (0, 1), "", True)


def _h_clcc(e, kind, args):
    if kind == "exec":  # the list of calls, not the default
        if e.call is not None:
            e._info(e._clcc_line(e.call))
        return None
    return _clcc_flag(e, kind, args)


def _h_chup(e, kind, args):
    if kind == "exec":
        e._hang_up()
        return None
    return None if kind == "test" else _ERROR


# ---- SMS (§1.5, A76-ATM §9.2) ----
def _h_cscs(e, kind, args):
    if kind == "read":
        e._info('+CSCS: "%s"' % e.cscs)
        return None
    if kind == "write":
        v = args[0].strip().upper()
        if v not in ("GSM", "IRA", "UCS2"):
            return _ERROR
        e.cscs = v
        return None
    if kind == "test":
        e._info('+CSCS: ("IRA","GSM","UCS2")')
        return None
    e.cscs = _PHONE_DEFAULTS["cscs"]
    return None


def _h_cnmi(e, kind, args):
    if kind == "read":
        e._info("+CNMI: %d,%d,%d,%d,%d" % e.cnmi)
        return None
    if kind == "test":
        e._info("+CNMI: (0,1,2),(0,1,2,3),(0,2),(0,1,2),(0,1)")
        return None
    if kind == "exec":
        e.cnmi = _PHONE_DEFAULTS["cnmi"]
        return None
    v = list(e.cnmi)
    if len(args) > 5:
        return _ERROR
    for i in range(len(args)):
        if args[i].strip():
            v[i] = _int(args[i])
    mode, mt, bm, ds, bfr = v
    if mode not in (0, 1, 2) or mt not in (0, 1, 2, 3) or bm not in (0, 2) or ds not in (0, 1, 2):
        return _ERROR
    if bfr not in (0, 1):
        return _ERROR
    # A76-ATM §9.2.9: <mt>=3 or <ds>=1 need <mode>=1, <mt>=2 needs <mode> 1 or 2
    if ((mt == 3 or ds == 1) and mode != 1) or (mt == 2 and mode == 0):
        return _ERROR
    e.cnmi = (mode, mt, bm, ds, bfr)
    return None


def _h_csmp(e, kind, args):
    if kind == "read":
        e._info("+CSMP: %d,%d,%d,%d" % e.csmp)
        return None
    if kind == "test":
        return None
    if kind != "write" or len(args) > 4:
        return _ERROR
    v = list(e.csmp)
    for i in range(len(args)):
        if args[i].strip():
            x = _int(args[i])
            if x < 0 or x > 255:
                return _ERROR
            v[i] = x
    e.csmp = (v[0], v[1], v[2], v[3])
    return None


def _h_csca(e, kind, args):
    if kind == "read":
        e._info('+CSCA: "%s",145' % e._te(SMSC))
        return None
    return None if kind in ("write", "test") else _ERROR  # write: accepted, not used (ASSUMED)


def _text_mode(e):
    """None when text-mode SMS commands can run; else +CMS ERROR: 314 before SMS DONE, 304 in
    PDU mode (not emulated)."""
    if not e.sms_ready:
        return _cms(314)
    return _cms(304) if e.cmgf == 0 else None


def _h_cpms(e, kind, args):
    if not e.sms_ready:
        return _cms(314)
    used, total = e.sms_used(), len(e.sms)
    if kind == "read":
        e._info('+CPMS: "SM",%d,%d,"SM",%d,%d,"SM",%d,%d' % (used, total, used, total, used, total))
        return None
    if kind == "test":
        e._info('+CPMS: ("SM"),("SM"),("SM")')
        return None
    if kind == "write":
        if len(args) > 3:
            return _ERROR
        for a in args:
            if a.strip().upper() != "SM":
                return _cms(302)  # only the SIM store is emulated (ASSUMED)
    e._info("+CPMS: %d,%d,%d,%d,%d,%d" % (used, total, used, total, used, total))
    return None


def _h_cmgr(e, kind, args):
    if kind == "test":
        return None
    if kind != "write":
        return _ERROR
    err = _text_mode(e)
    if err is not None:
        return err
    i = _int(args[0])
    if i < 1 or i > len(e.sms) or e.sms[i - 1] is None:
        return _cms(321)
    m = e.sms[i - 1]
    e._resp += e._sms_block('+CMGR: "%s",' % m.stat, m)
    if m.stat == "REC UNREAD":
        m.stat = "REC READ"
    return None


_CMGL_STATS = ("REC UNREAD", "REC READ", "STO UNSENT", "STO SENT", "ALL")


def _h_cmgl(e, kind, args):
    if kind == "test":
        e._info('+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")')
        return None
    if kind == "read":
        return _ERROR
    err = _text_mode(e)
    if err is not None:
        return err
    want = "REC UNREAD" if kind == "exec" else args[0].strip().upper()  # 27.005 default
    if want not in _CMGL_STATS:
        return _cms(305)
    for i in range(len(e.sms)):
        m = e.sms[i]
        if m is not None and (want == "ALL" or m.stat == want):
            e._resp += e._sms_block('+CMGL: %d,"%s",' % (i + 1, m.stat), m)
            if m.stat == "REC UNREAD":
                m.stat = "REC READ"
    return None


def _h_cmgd(e, kind, args):
    if kind == "test":
        used = [str(i + 1) for i in range(len(e.sms)) if e.sms[i] is not None]
        e._info("+CMGD: (%s),(0-4)" % ",".join(used))
        return None
    if kind != "write" or len(args) > 2:
        return _ERROR
    if not e.sms_ready:
        return _cms(314)
    flag = _int(args[1]) if len(args) > 1 and args[1].strip() else 0
    if flag < 0 or flag > 4:
        return _ERROR
    if flag == 0:
        i = _int(args[0])
        if i < 1 or i > len(e.sms):
            return _cms(321)
        e.sms[i - 1] = None  # an empty index: OK as well (ASSUMED)
        return None
    if args[0].strip():
        _int(args[0])  # ignored with a <delflag>, but it must be a number
    gone = ("REC READ",)
    if flag == 2:
        gone = ("REC READ", "STO SENT")
    elif flag == 3:
        gone = ("REC READ", "STO SENT", "STO UNSENT")
    for i in range(len(e.sms)):
        m = e.sms[i]
        if m is not None and (flag == 4 or m.stat in gone):
            e.sms[i] = None
    return None


def _h_cmgs(e, kind, args):
    if kind == "test":
        return None
    if kind != "write" or len(args) > 2:
        return _ERROR
    err = _text_mode(e)
    if err is not None:
        return err
    if e.call is not None:
        return _cms(302)  # call commands conflict with SMS commands (A76-SMS §2)
    da = args[0].strip()
    if e.cscs == "UCS2":
        da = _unhex16(da)
    if da is None or not phones.valid_number(da):
        return _cms(305)
    if len(args) > 1 and args[1].strip():
        t = _int(args[1])
        if t < 128 or t > 255:
            return _cms(305)
    e._sdm = [da, bytearray(), False]
    return _PROMPT


# ---- the SSL service (A76-ATM §19; SSL app note §3) ----
_SSL_KEYS = {"sslversion": (0, 4), "authmode": (0, 3), "ignorelocaltime": (0, 1), "negotiatetime": (10, 300),
             "enablesni": (0, 1)}
_SSL_FILES = ("cacert", "clientcert", "clientkey", "password")


def _cert_name(name):
    """A certificate file name as §19.2.2 takes it: 5..108 characters, '.pem' or '.der'."""
    return 5 <= len(name) <= 108 and name[-4:].lower() in (".pem", ".der")


def _h_csslcfg(e, kind, args):
    # §19.2.1: set one item of an SSL context, or show one (=<index>) or all (?)
    if kind == "test":
        for k, r in (("sslversion", "(0-4)"), ("authmode", "(0-3)"), ("ignorelocaltime", "(0,1)"),
                     ("negotiatetime", "(10-300)"), ("cacert", "(5-108)"), ("clientcert", "(5-108)"),
                     ("clientkey", "(5-108)"), ("password", "(5-108)"), ("enableSNI", "(0,1)")):
            e._info('+CSSLCFG: "%s",(0-9),%s' % (k, r))
        return None
    if kind == "read":
        for i in range(SSL_CONTEXTS):
            e._info(_ssl_line(i, e.ssl[i]))
        return None
    if kind != "write":
        return _ERROR
    if len(args) == 1:
        i = _int(args[0])
        if not 0 <= i < SSL_CONTEXTS:
            return _ERROR
        e._info(_ssl_line(i, e.ssl[i]))
        return None
    if len(args) != 3:
        return _ERROR
    key = args[0].lower()
    i = _int(args[1])
    if not 0 <= i < SSL_CONTEXTS:
        return _ERROR
    if key in _SSL_KEYS:
        lo, hi = _SSL_KEYS[key]
        v = _int(args[2])
        if not lo <= v <= hi:
            return _ERROR
        e.ssl[i]["enableSNI" if key == "enablesni" else key] = v
        return None
    if key in _SSL_FILES:
        if not _cert_name(args[2]):
            return _ERROR
        e.ssl[i][key] = args[2]  # the file need not exist yet: the handshake looks (ASSUMED)
        return None
    return _ERROR


def _h_ccertdown(e, kind, args):
    # §19.2.2: '>', <len> bytes, OK; kept on the module's flash
    if kind == "test":
        e._info("+CCERTDOWN: (5-108),(1-%d)" % CERT_MAX)
        return None
    if kind != "write" or len(args) != 2 or not _cert_name(args[0]):
        return _ERROR
    n = _int(args[1])
    if not 1 <= n <= CERT_MAX:
        return _ERROR
    name = args[0]
    e._dm = [lambda data: e._cert_stored(name, data), n, bytearray()]
    return _PROMPT


def _h_ccertlist(e, kind, args):
    # §19.2.3
    if kind != "exec":
        return None if kind == "test" else _ERROR
    for name in sorted(e.certs):
        e._info('+CCERTLIST: "%s"' % name)
    return None


def _h_ccertdele(e, kind, args):
    # §19.2.4
    if kind != "write" or len(args) != 1 or args[0] not in e.certs:
        return None if kind == "test" else _ERROR
    del e.certs[args[0]]
    return None


def _h_cchset(e, kind, args):
    # §19.2.5: "It must be called before AT+CCHSTART" (after it: ERROR, ASSUMED)
    if kind == "test":
        e._info("+CCHSET: (0,1),(0,1)")
        return None
    if kind == "read":
        e._info("+CCHSET: %d,%d" % (e.cch_set[0], e.cch_set[1]))
        return None
    if kind != "write" or not 1 <= len(args) <= 2 or e.cch_started:
        return _ERROR
    v = [_int(a) for a in args]
    if [x for x in v if x not in (0, 1)]:
        return _ERROR
    e.cch_set = [v[0], v[1] if len(v) > 1 else e.cch_set[1]]
    return None


def _h_cchmode(e, kind, args):
    # §19.2.6: transparent mode (1) is not emulated (ERROR, ASSUMED; the firmware never asks)
    if kind == "test":
        e._info("+CCHMODE: (0,1)")
        return None
    if kind == "read":
        e._info("+CCHMODE: 0")
        return None
    if kind != "write" or e.cch_started or _int(args[0]) != 0:
        return _ERROR
    return None


def _h_cchstart(e, kind, args):
    # §19.2.7: OK, '+CCHSTART: 0'; failed: ERROR (then '+CCHSTART: <err>'). Already started:
    # ERROR (ASSUMED). It activates the PDP context: registration needed, no AT+NETOPEN.
    if kind == "test":
        return None
    if kind != "exec" or e.cch_started:
        return _ERROR
    if not e.registered or not e.world.coverage_at():
        e._urc_after("+CCHSTART: 17", e._rand(100, 300))  # "Nonet"
        return _ERROR
    e.cch_started = True
    e._radio()
    e._urc_after("+CCHSTART: 0", e._rand(100, 400))
    return None


def _h_cchstop(e, kind, args):
    # §19.2.8: OK, '+CCHSTOP: 0'; every session closed with it
    if kind == "test":
        return None
    if kind != "exec" or not e.cch_started:
        return _ERROR
    for i in range(CCH_SESSIONS):
        lk = e.cch[i]
        e.cch[i] = None
        e.cch_ctx[i] = None
        if lk is not None:
            e._close_up(lk)
    e.cch_started = False
    e._urc_after("+CCHSTOP: 0", e._rand(50, 200))
    return None


def _h_cchaddr(e, kind, args):
    # §19.2.9
    if kind != "exec" or not e.cch_started:
        return None if kind == "test" else _ERROR
    e._info("+CCHADDR: %s" % LOCAL_IP)
    return None


def _h_cchsslcfg(e, kind, args):
    # §19.2.10: after AT+CCHSTART, before AT+CCHOPEN; cleared by a failed open or a close
    if kind == "test":
        e._info("+CCHSSLCFG: (0,1),(0-9)")
        return None
    if kind == "read":
        for i in range(CCH_SESSIONS):
            c = e.cch_ctx[i]
            e._info("+CCHSSLCFG: %d,%s" % (i, "" if c is None else c))
        return None
    if kind != "write" or len(args) != 2 or not e.cch_started:
        return _ERROR
    s, c = _int(args[0]), _int(args[1])
    if not 0 <= s < CCH_SESSIONS or not 0 <= c < SSL_CONTEXTS:
        return _ERROR
    e.cch_ctx[s] = c
    return None


def _h_cchcfg(e, kind, args):
    # §19.2.11: "sendtimeout" (kept, not used: sends are never slow here), "sslctx" = CCHSSLCFG
    if kind == "test":
        return None
    if kind != "write" or len(args) != 3 or not e.cch_started:
        return _ERROR
    s, v = _int(args[1]), _int(args[2])
    if not 0 <= s < CCH_SESSIONS:
        return _ERROR
    key = args[0].lower()
    if key == "sslctx" and 0 <= v < SSL_CONTEXTS:
        e.cch_ctx[s] = v
        return None
    return None if key == "sendtimeout" and 60 <= v <= 150 else _ERROR


def _h_cchopen(e, kind, args):
    # §19.2.12: OK, then '+CCHOPEN: <s>,<err>' (0 connected; §19.3.1 codes); ERROR at once
    # without the service, with a session in use, with a bad parameter
    if kind == "test":
        e._info('+CCHOPEN: (0,1),"ADDRESS",(1-65535)[,(1-2)[,(1-65535)]]')
        return None
    if kind == "read":
        for i in range(CCH_SESSIONS):
            lk = e.cch[i]
            if lk is not None and lk.state == "open":
                e._info('+CCHOPEN: %d,"%s",%d,%d,' % (i, lk.host, lk.port, 2 if lk.tls else 1))
            else:
                e._info('+CCHOPEN: %d,"",,,' % i)
        return None
    if kind != "write" or not 3 <= len(args) <= 5 or not e.cch_started:
        return _ERROR
    n = _int(args[0])
    port = _int(args[2])
    ctype = _int(args[3]) if len(args) > 3 and args[3] else 2
    if not 0 <= n < CCH_SESSIONS or not 1 <= port <= 65535 or ctype not in (1, 2) or not args[1]:
        return _ERROR
    if e.cch[n] is not None:  # open, opening, or closed by the peer with data kept
        return _ERROR
    lk = _Link(n, args[1], port, "cch", ctype == 2)
    e.cch[n] = lk
    # without AT+CCHSSLCFG the session's own index is the context (§19.2.10 NOTE)
    ctx = e.cch_ctx[n] if e.cch_ctx[n] is not None else n
    e._later(e._rand(100, 300), lambda: e._cch_open_result(lk, ctx))
    return None


def _h_cchclose(e, kind, args):
    # §19.2.13: OK, '+CCHCLOSE: <s>,0'; no session: ERROR. A session the server closed is
    # freed with its cached data (ASSUMED)
    if kind != "write" or len(args) != 1:
        return None if kind == "test" else _ERROR
    n = _int(args[0])
    if not 0 <= n < CCH_SESSIONS or e.cch[n] is None:
        return _ERROR
    lk = e.cch[n]
    e.cch[n] = None
    e.cch_ctx[n] = None
    if lk.state == "opening":
        lk.state = "cancelled"
    else:
        e._close_up(lk)
    e._urc_after("+CCHCLOSE: %d,0" % n, e._rand(20, 80))
    return None


def _h_cchsend(e, kind, args):
    # §19.2.14: '>', <len> bytes, OK; then '+CCHSEND: <s>,<err>' with AT+CCHSET=1
    if kind == "test":
        e._info("+CCHSEND: (0,1),(1-%d)" % CCH_SEND_MAX)
        return None
    if kind == "read":
        e._info("+CCHSEND: 0,0,1,0")
        return None
    if kind != "write" or len(args) != 2:
        return _ERROR
    n, length = _int(args[0]), _int(args[1])
    if not 0 <= n < CCH_SESSIONS or not 1 <= length <= CCH_SEND_MAX:
        return _ERROR
    lk = e.cch[n]
    if lk is None or lk.state != "open":
        return _ERROR
    e._dm = [lambda data: e._cch_sent(n, data), length, bytearray()]
    return _PROMPT


def _h_cchrecv(e, kind, args):
    # §19.2.15: OK, then '+CCHRECV: DATA,<s>,<len>' + bytes (chunks), then '+CCHRECV: <s>,0';
    # nothing cached: '+CCHRECV: <s>,<err>' then ERROR
    if kind == "read":
        c = [len(lk.rx) if lk is not None else 0 for lk in e.cch]
        e._info("+CCHRECV: LEN,%d,%d" % (c[0], c[1]))
        return None
    if kind != "write" or not 1 <= len(args) <= 2:
        return None if kind == "test" else _ERROR
    n = _int(args[0])
    mx = _int(args[1]) if len(args) > 1 and args[1] else 0
    if not 0 <= n < CCH_SESSIONS or not 0 <= mx <= CCH_SEND_MAX:
        return _ERROR
    lk = e.cch[n]
    if lk is None or not lk.rx:
        e._info("+CCHRECV: %d,%d" % (n, CCH_NO_DATA))
        return _ERROR
    take = len(lk.rx) if mx == 0 else min(mx, len(lk.rx))
    data = bytes(lk.rx[:take])
    lk.rx = lk.rx[take:]
    for i in range(0, len(data), CCH_RECV_CHUNK):
        part = data[i:i + CCH_RECV_CHUNK]
        e._urc_after(("+CCHRECV: DATA,%d,%d\r\n" % (n, len(part))).encode() + part, 0)
    e._urc_after("+CCHRECV: %d,0" % n, 0)
    e._host_read(lk, data)
    return None


# ---- the HTTP service (A76-ATM §16; HTTP(S) app note §3) ----
def _h_httpinit(e, kind, args):
    # §16.2.1: it activates the PDP context: registration needed (ERROR otherwise, ASSUMED);
    # a second AT+HTTPINIT without AT+HTTPTERM: ERROR (ASSUMED)
    if kind == "test":
        return None
    if kind != "exec" or e.http is not None or not e.registered or not e.world.coverage_at():
        return _ERROR
    e.http = _Http()
    e._radio()
    return None


def _h_httpterm(e, kind, args):
    # §16.2.2: the service stops; its connection is closed
    if kind == "test":
        return None
    if kind != "exec" or e.http is None:
        return _ERROR
    e._http_drop_conn()
    e.http = None
    return None


def _h_httppara(e, kind, args):
    # §16.2.3
    h = e.http
    if kind == "test":
        return None
    if kind != "write" or h is None or len(args) != 2:
        return _ERROR
    key, v = args[0].upper(), args[1]
    if key == "URL":
        if _parse_url(v) is None:
            return _ERROR
        h.url = v
    elif key in ("CONNECTTO", "RECVTO", "SSLCFG", "READMODE"):
        x = _int(v)
        lo, hi = {"CONNECTTO": (20, 120), "RECVTO": (2, 120), "SSLCFG": (0, 9), "READMODE": (0, 1)}[key]
        if not lo <= x <= hi:
            return _ERROR
        setattr(h, key.lower(), x)
    elif key in ("CONTENT", "ACCEPT", "USERDATA"):
        if len(v) > 256:
            return _ERROR
        setattr(h, key.lower(), v)
    else:
        return _ERROR
    return None


def _h_httpaction(e, kind, args):
    # §16.2.4: OK, then '+HTTPACTION: <method>,<status|errcode>,<datalen>'. Only GET (0) is
    # emulated (the others: ERROR, ASSUMED); one action at a time (ERROR while one runs)
    if kind == "test":
        e._info("+HTTPACTION: (0-4)")
        return None
    h = e.http
    if kind != "write" or h is None or h.pending is not None or not h.url or _int(args[0]) != 0:
        return _ERROR
    h.pending = 0
    h.gen += 1
    g = h.gen
    e._later(e._rand(20, 60), lambda: e._http_go(g))
    return None


def _h_httphead(e, kind, args):
    # §16.2.5: '+HTTPHEAD: <len>' + the header text, OK
    h = e.http
    if kind == "test":
        return None
    if kind != "exec" or h is None or h.pending is not None or not h.head:
        return _ERROR
    e._resp += ("\r\n+HTTPHEAD: %d\r\n" % len(h.head)).encode() + h.head
    return None


def _h_httpread(e, kind, args):
    # §16.2.6: AT+HTTPREAD? -> '+HTTPREAD: LEN,<n>'; AT+HTTPREAD=[<off>,]<size> -> OK, then
    # '+HTTPREAD: <k>' + k bytes, '+HTTPREAD: 0'. The body stays cached (§16.2.6 NOTE)
    h = e.http
    if kind == "test":
        return None
    if h is None or h.pending is not None:
        return _ERROR
    if kind == "read":
        e._info("+HTTPREAD: LEN,%d" % len(h.body))
        return None
    if kind != "write" or not 1 <= len(args) <= 2:
        return _ERROR
    off, size = (0, _int(args[0])) if len(args) == 1 else (_int(args[0]), _int(args[1]))
    if off < 0 or size < 1 or off >= len(h.body):
        return _ERROR
    data = h.body[off:off + size]
    e._urc_after(("+HTTPREAD: %d\r\n" % len(data)).encode() + data, 0)
    e._urc_after("+HTTPREAD: 0", 0)
    return None


_HANDLERS = {
    "+CMEE": _flag_handler("+CMEE", "cmee", (0, 1, 2), test="(0-2)"),
    "+CPIN": _h_cpin,
    "+CSQ": _h_csq,
    "+CREG": _reg_handler("+CREG", "creg_n"),
    "+CGREG": _reg_handler("+CGREG", "cgreg_n"),
    "+CEREG": _reg_handler("+CEREG", "cereg_n"),
    "+COPS": _h_cops,
    "+CGSN": _h_cgsn,
    "+GSN": _h_cgsn,
    "+SIMEI": _h_simei,
    "+CICCID": _h_ciccid,
    "+SIMCOMATI": _h_simcomati,
    "+CGMM": _h_cgmm,
    "+CGMI": _h_cgmi,
    "+CGMR": _h_cgmr,
    "+CCLK": _h_cclk,
    "+CFUN": _h_cfun,
    "+CPOF": _h_cpof,
    "+CRESET": _h_creset,
    "+CFGRI": _flag_handler("+CFGRI", "cfgri", (0, 1)),
    "+CSCLK": _flag_handler("+CSCLK", "csclk", (0, 1, 2)),
    "+CIPSRIP": _flag_handler("+CIPSRIP", "srip", (0, 1)),
    "+CGDCONT": _h_cgdcont,
    "+CGATT": _h_cgatt,
    "+CGNSSPWR": _h_cgnsspwr,
    "+CAGPS": _h_cagps,
    "+CGPSCOLD": _h_cgpscold,
    "+CGPSWARM": _h_cgpshot,
    "+CGPSHOT": _h_cgpshot,
    "+CGNSSMODE": _h_accept,
    "+CGNSSTST": _h_accept,
    "+CGNSSPORTSWITCH": _h_accept,
    "+CGNSSINFO": _h_cgnssinfo,
    "+CGPSINFO": _h_cgpsinfo,
    "+CPSI": _h_cpsi,
    "+NETOPEN": _h_netopen,
    "+NETCLOSE": _h_netclose,
    "+IPADDR": _h_ipaddr,
    "+CIPOPEN": _h_cipopen,
    "+CIPSEND": _h_cipsend,
    "+CIPRXGET": _h_ciprxget,
    "+CIPCLOSE": _h_cipclose,
    "+CIPHEAD": _h_accept,
    "+CIPCCFG": _h_accept,
    "+CIPTIMEOUT": _h_ciptimeout,
    "+CIPMODE": _h_accept,
    "+CSSLCFG": _h_csslcfg,
    "+CCERTDOWN": _h_ccertdown,
    "+CCERTLIST": _h_ccertlist,
    "+CCERTDELE": _h_ccertdele,
    "+CCHSET": _h_cchset,
    "+CCHMODE": _h_cchmode,
    "+CCHSTART": _h_cchstart,
    "+CCHSTOP": _h_cchstop,
    "+CCHADDR": _h_cchaddr,
    "+CCHSSLCFG": _h_cchsslcfg,
    "+CCHCFG": _h_cchcfg,
    "+CCHOPEN": _h_cchopen,
    "+CCHCLOSE": _h_cchclose,
    "+CCHSEND": _h_cchsend,
    "+CCHRECV": _h_cchrecv,
    "+HTTPINIT": _h_httpinit,
    "+HTTPTERM": _h_httpterm,
    "+HTTPPARA": _h_httppara,
    "+HTTPACTION": _h_httpaction,
    "+HTTPHEAD": _h_httphead,
    "+HTTPREAD": _h_httpread,
    # A76-ATM §4.2.12: automatic time and zone update from NITZ; factory 0, nonvolatile
    "+CTZU": _flag_handler("+CTZU", "ctzu", (0, 1), test="(0-1)"),
    "+CLTS": _h_accept,
    "+CLIP": _flag_handler("+CLIP", "clip", (0, 1), ",1", True),  # ,1: CLIP provisioned
    "+CLCC": _h_clcc,
    "+CVHU": _flag_handler("+CVHU", "cvhu", (0, 1), "", True),
    "+CHUP": _h_chup,
    "+CMGF": _flag_handler("+CMGF", "cmgf", (0, 1), "", True),
    "+CSCS": _h_cscs,
    "+CSDH": _flag_handler("+CSDH", "csdh", (0, 1), "", True),
    "+CNMI": _h_cnmi,
    "+CSMP": _h_csmp,
    "+CSCA": _h_csca,
    "+CPMS": _h_cpms,
    "+CMGR": _h_cmgr,
    "+CMGL": _h_cmgl,
    "+CMGD": _h_cmgd,
    "+CMGS": _h_cmgs,
}
