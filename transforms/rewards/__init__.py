"""Rewards for RL trainers, decided by mmcot's own verifier (the code that built the data scores the policy).

- verl: ``custom_reward_function.path=<transforms/rewards/verl_reward.py> custom_reward_function.name=compute_score``
- TRL GRPO: ``GRPOTrainer(reward_funcs=[transforms.rewards.trl_reward.accuracy_reward], ...)`` or ``make_reward(...)``

The answer's type, choices and unit come from the row (``reward_model.ground_truth`` and
``extra_info``), never re-guessed. :mod:`transforms.rewards.score` holds the shared scoring.
"""
