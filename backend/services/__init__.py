"""Use cases: each module is one area of the product, called by routes and tasks."""
