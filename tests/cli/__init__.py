"""Tests of the twisted-tcp command, twisted_tcp.cli: one module per module."""
