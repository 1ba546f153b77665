"""One module per operation (attach, detach, ...); `portal.interfaces.registry` is where they are registered."""
