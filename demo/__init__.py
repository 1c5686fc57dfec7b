"""The demo: everything run against moto's AWS emulator on loopback (needs the ``demo`` extra)."""
