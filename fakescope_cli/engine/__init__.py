"""Model engines: the forensic model interface and its llama.cpp implementation."""
