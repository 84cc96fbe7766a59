"""QEMU: the command line, QMP, the accelerator choice and the process of one machine."""
