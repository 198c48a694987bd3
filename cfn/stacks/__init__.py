"""One module per template; each exposes a pure `build(env, ...) -> troposphere.Template`."""
