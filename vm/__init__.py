"""Portside VM: the QEMU-managed Linux machine that hosts the engine off Linux."""
