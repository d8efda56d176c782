"""The web process's server: gunicorn's worker (`bot.web.front.TodokuWorker`, uvicorn's
event loop) and the ASGI front around the Flask app (`AsgiFront`: POST /callback checked in
the loop and written by the worker's webhook-writer thread, every other request to Flask
through a2wsgi, the access lines).

May import: bot.registration (the webhook's `accept` and `write_many`), bot.logs; uvicorn,
a2wsgi, gunicorn. Nothing imports it but gunicorn.conf.py (by name).
"""
