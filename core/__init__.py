"""The kernel every app may use and that uses no app (DESIGN.md "Layout"): db helpers, errors,
decimals, the live publisher and socket fan-out, API base classes and authentication."""
