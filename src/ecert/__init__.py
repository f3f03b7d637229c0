"""ecert: electronic registration certificates for first-class registered constructors (一级建造师).

Layers are folders: ``domain`` (pure rules, values and verdict types; standard library only),
``services`` (use cases over a unit of work; read models in ``services/views``), ``adapters``
(all I/O: database repositories, documents, signing, keys, mail, queue), ``entrypoints`` (the
CLI, the web service, jobs). ``bootstrap`` is the one composition root and ``config`` the one
settings object (the only reader of the environment). tests/unit/test_import_graph.py holds the
layers to this: no cycle, domain on the standard library, adapters never import services.
"""

__version__ = "0.1.0"
