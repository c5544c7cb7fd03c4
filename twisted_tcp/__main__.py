"""C{python -m twisted_tcp}: the same as the C{twisted-tcp} command."""

from twisted_tcp.cli import main

main()
