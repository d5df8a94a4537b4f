"""The betting app's hand-written SQL (DESIGN.md "Layout"): statements where the ORM would cost more, and
the PL/pgSQL functions of the one-call services, with table and column names from the models' ``_meta``
and values from the model enums. One module per concept: ``stats`` (the weekly bettor stats upsert),
``placement`` (a slip placed or checked), ``challenges`` (a challenge offered and taken), ``settlement``
(a batch of challenges settled). Installed by betting/migrations; tests/test_sql_functions.py checks
that what is installed is what these modules say."""
