"""Phone-system adapters: each turns one provider's webhooks into provider-neutral call events
(models/calls.py ``NeutralEvent``) and answers the provider in its own language.

Only the Twilio-compatible adapter exists (sync/telephony/twilio.py); SignalWire's and Kazoo's
TwiML-compatible webhooks go through it unchanged. Qt-free, like all of sync/.
"""
