"""Instruction data: FakeChain rationales and FakeInstruct dialogues."""
