"""bodycam"""
