"""The bureau's MQTT broker: its PKI (CA, server and client certificates) and Mosquitto configuration."""
