"""The synthetic ad generator behind :func:`tasks.ad_compliance.data.generate_dataset`.

Modules: ``forms`` (the compositional machinery and the held-out split), ``products`` (compliant
product copy), one module of violation forms per group of policies (``health``, ``money``,
``audience``, ``style``), ``negatives`` (compliant trigger-full sentences), ``catalogue`` (all
forms by policy and pool) and ``compose`` (drawing one ad with its gold findings and revision).
LABELLING.md ("The generated set") describes the result.
"""
