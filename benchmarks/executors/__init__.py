"""The executors the suite compares, each running the same plans (see ``registry.make_executors``)."""
