"""Training data: loaders for the shared bundle and preference exports, and chat tokenization.

Modules (this ``__init__`` imports nothing):
    sources      the SFT data-source registry (name -> conversations) and the seeded mix
    conversation the SFT example type (Conversation) every source returns
    ad_compliance the ad-compliance train split as SFT conversations
    preference   preference pairs {prompt, chosen, rejected}: registry, JSONL I/O, train/eval split
    chat         conversations rendered with the model's chat template, assistant-only labels
"""
