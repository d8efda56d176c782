"""The web process's server: gunicorn's worker (`bot.web.front.TodokuWorker`, uvicorn's
event loop) and the ASGI front around the Flask app (`AsgiFront`: POST /callback on
webhook threads, every other request to Flask through a2wsgi, the access lines).

May import: bot.registration (the webhook's `respond_to`), bot.logs; uvicorn, a2wsgi,
gunicorn. Nothing imports it but gunicorn.conf.py (by name).
"""
