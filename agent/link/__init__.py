"""The recorder protocol library: firmware profiles, framing, parsers and the serial link.

Usable without the dock: nothing here knows about ledgers, stores or MQTT.
"""
