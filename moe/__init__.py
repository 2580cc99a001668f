"""MoE-PPO agent, router corrections and a single-run trainer."""
