"""A faithful SCP stand-in, run as its own process. The portal never imports this package."""
