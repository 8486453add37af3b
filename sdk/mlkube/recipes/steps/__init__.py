"""One module per step: ``execute(ctx) -> Output`` and ``load(ctx, record)``, which rebuilds
the step's value from its logged outputs when a later step needs it and the step was cached."""
