"""`icegrt rank`: the k sampled replies of each prompt ranked, and every pair a ranking implies.

Modules:
    pairs     rankings (tiers of response ids, best first) -> preference pairs; the pairs file
    scorers   the domain tasks' scorers, per reply (``--by scorer``)
    human     the interactive terminal ranker with saved progress (``--by human``)
    feedback  the server's exported feedback -> pairs (``--by feedback``)
    commands  the command line
"""
