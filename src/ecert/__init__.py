"""ecert: electronic registration certificates for first-class registered constructors (一级建造师).

Layers are folders: ``domain`` (pure rules), ``services`` (use cases), ``adapters`` (I/O),
``entrypoints`` (CLI, later web). ``bootstrap`` is the one composition root.
"""

__version__ = "0.1.0"
