"""linesim: a local stand-in for the LINE Messaging API platform.

Entry points (nothing runs at import):

* ``linesim.app.create_app(channel_secret, access_token, webhook_url, *, clock=None, ...)``
* ``linesim.server.serve(host, port, webhook_url, channel_secret, access_token, **options)``
* ``linesim.server.start_in_thread(channel_secret, access_token, webhook_url=None, ...)``
* ``linesim.client.SimClient(base_url)`` for linesim's own ``/_sim`` API.
"""
