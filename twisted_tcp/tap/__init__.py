"""
The C{twist} plugins' option parsers and service makers, one module per server; the
dropin in C{twisted/plugins/} names them lazily.
"""
