"""The service layer: what every front end (FastAGI, classic AGI, ARI, the CLI, the admin API) calls.

``screening`` decides calls (the flow of PRODUCT.md, fail closed) and ``protocol`` says what a front end
needs of it; the administrative use cases (``dnc``, ``consent``, ``audit``) live beside it, one module each.
Front ends import from here, never from ``screener.store``. Nothing is imported here, so that a command
loads only the modules it uses.
"""
