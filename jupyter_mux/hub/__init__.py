"""`jupyter-mux hub-service`: the mux run as a JupyterHub service for every user of a Hub.

The handlers are the server extension's own (`handlers/`), served by a Jupyter server that
runs nothing else, behind JupyterHub's service auth (`auth.py`), with one tenant per Hub user
(`tenants.py`): their own workspaces, active workspace, providers and usage, in the one
database only this process reads. Provider keys, the database and the encryption key never
leave it. `app.py` is the command.

`remote.py` is the other side, in users' servers (`c.MuxApp.hub_service`): their `/mux/`
routes forwarded to the service. The service's modules need `jupyterhub` (the `hub` extra);
`remote.py` does not.
"""
