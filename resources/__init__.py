"""Static files Portside ships, as package data.

- ``icons/``: the application icon (``hicolor/scalable`` SVG and the PNG sizes rendered from
  it by ``packaging/render_icons.py``) and the engine-state badges (``tray/``);
- ``desktop/``: the freedesktop desktop entry and the AppStream metainfo;
- ``service/``: the systemd units (``portside.service``, ``portside.socket``) and the
  sysusers.d snippet for the ``portside`` group;
- ``guest/``: Portside Machine's guest units, scripts and settings.

A package only so that ``importlib.resources.files("portside.resources")`` finds the files
in a checkout, an editable install and a wheel alike.
"""
