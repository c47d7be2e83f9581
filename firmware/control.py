"""Remote control: guardians' commands from the server and by SMS, carried out.

The commands themselves are a pure layer (firmware/commands.py: the text in, the complete new
settings, the reply and the actions out). This is the shell around it:

* from the server: every downlink frame that is not an ack (uplink) comes here; the reply goes
  back in a frame with the downlink's maker prefix and index (watch-protocol.md §5);
* by SMS: only from a guardian's number (telephony drops everyone else's unread), and only with
  the PIN ("pw,<pin>,<command>#"); wrong PINs count per number and lock the channel
  (commands.PinGuard); the PIN is never logged; the reply is an SMS to the sender;
* a change is validated as a whole, saved atomically (config.json.tmp + rename: a power cut
  leaves the old or the new settings, never a mix) and takes effect at once: the reporter
  re-plans on a new interval, telephony and SOS read the contacts and school settings afresh;
* actions: locate now, buzz (FIND), a message or voice message stored for a display or speaker a
  later board brings, SOS cancel, reset, power off, factory settings.
"""
from firmware import clock, fsutil, log, sos, watchproto
from firmware.commands import PinGuard, apply_server, apply_sms, parse_sms


class Control:
    def __init__(self, app):
        """app: firmware.app.App (config, reporter, uplink, telephony, sos, board, root)."""
        self.app = app
        self.pins = PinGuard()

    # ---- from the server ----
    def on_downlink(self, frame):
        """A parsed downlink (watchproto.Frame) that is not an ack. Returns the reply frame
        bytes to send (the echo of the command), or None."""
        res = apply_server(self.app.cfg.as_dict(), frame.content)  # bytes: TK is binary
        self._carry_out(res, "server", frame.type[:16])
        if not res.reply:
            return None
        index = frame.index
        if index is not None and not watchproto.is_index(index):
            # Traccar's rule takes any text before a hex length for the index (§2), and so does
            # parse(); its encoder only ever writes 4 hex digits. Another "index" (a broken or
            # hostile server: "[SG*id**0002*CR]") is not echoed: encode() refuses it, and that
            # ValueError would end the receiver with the command carried out and unanswered.
            index = None
        maker = frame.maker
        if not watchproto.is_maker(maker):
            # parse() takes any 2 printable characters, as Traccar does (§2); echoing a `}` or a
            # `*` would give a frame Traccar cannot read (an escape error closes the session)
            maker = self.app.cfg["maker"]
        return watchproto.encode(maker, self.app.device_id, res.reply, index)

    # ---- by SMS (from a guardian: telephony checked the number) ----
    async def on_sms(self, contact, text):
        """A guardian's SMS. Returns True if it was a command (handled here), False if it is
        an ordinary message (telephony keeps it)."""
        parsed = parse_sms(text)
        if parsed is None:
            return False
        pin, command = parsed
        cfg = self.app.cfg
        now = clock.wall.now() or 0
        if not cfg["pin"]:
            log.event("command_refused", source="sms", name=contact.name, why="no PIN set: SMS commands off")
            return True
        if not self.pins.allowed(now):
            log.event("command_refused", source="sms", name=contact.name, why="locked")
            return True
        if pin != cfg["pin"]:
            locked = self.pins.wrong(contact.number, now)
            log.event("command_refused", source="sms", name=contact.name, why="wrong PIN", locked=locked)
            return True
        self.pins.right(contact.number, now)
        res = apply_sms(cfg.as_dict(), command)
        self._carry_out(res, "sms", command.split(",", 1)[0][:16])
        reply = res.reply
        if ("where",) in res.actions:
            reply = self.where()
        if reply:
            try:
                await self.app.telephony.send_sms(contact.number, reply, True, "reply")
            except (OSError, ValueError) as e:
                log.event("error", where="command_reply", err=repr(e))
        return True

    def where(self):
        """The SMS answer to 'where are you' (the SOS SMS's words for it)."""
        return sos.where_text(*self.app.reporter.position_now())

    # ---- carrying out ----
    def _carry_out(self, res, source, name):
        if res.error is not None:
            log.event("command_refused", source=source, command=name, why=res.error)
            return
        if res.values is not None:
            changed = self.save(res.values)
            log.event("command_applied", source=source, command=name, changed=",".join(changed))
        else:
            log.event("command", source=source, command=name)
        for action in res.actions:
            try:
                self._act(action)
            except Exception as e:  # noqa: BLE001 - one action's failure must not lose the others
                log.event("error", where="command_action", action=action[0], err=repr(e))

    def save(self, values):
        """Validate the whole, save atomically, then make it take effect. Returns the changed
        keys. A ConfigError (ValueError) leaves the settings as they were."""
        app = self.app
        cfg = app.cfg
        old = cfg.as_dict()
        changed = cfg.update(values)
        try:
            cfg.save()
        except OSError:
            cfg.update(old)  # the flash refused: run on what is on it
            raise
        if "contacts" in changed or "country_code" in changed:
            app.load_contacts()
        if app.reporter is not None:
            if "report_interval_s" in changed:
                app.reporter.replan()
            if "zones" in changed:
                app.reporter.zones_changed()
        if app.school is not None:
            app.school.changed()
        return changed

    def _act(self, action):
        app = self.app
        kind = action[0]
        if kind == "locate":
            app.reporter.hurry()
            if app.uplink is not None:
                app.uplink.asked()  # the report that answers is not held for a batch
        elif kind == "find":
            app.buzz(5000)
        elif kind == "sos_cancel":
            app.sos.cancel()
        elif kind == "message":
            app.telephony.inbox.add(clock.wall.now(), "server", "guardian", "", action[1][:480])
            log.event("message", chars=len(action[1]), text=action[1][:160])
        elif kind == "voice":  # at most 16 KiB: commands refuses a longer one
            data = action[1]
            fsutil.atomic_write(fsutil.join(app.root, "voice.amr"), data)
            log.event("voice_message", bytes=len(data))  # no speaker on this board: kept only
        elif kind == "factory":  # the settings were reset with the command's values
            log.event("factory_settings")
            if app.positioning is not None:
                app.positioning.places.clear()  # where the child lives is private
        elif kind in ("reset", "poweroff"):
            app.shutdown(kind)
        elif kind == "where":
            pass  # an SMS command: on_sms answers it
        else:
            log.event("error", where="command_action", err="unknown action " + kind)
