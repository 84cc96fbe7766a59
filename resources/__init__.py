"""Static files Portside ships: the guest image's units and scripts, icons, desktop entries.

A package only so that ``importlib.resources.files("portside.resources")`` finds the files
in a checkout, an editable install and a wheel alike.
"""
