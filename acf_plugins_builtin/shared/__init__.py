"""What several kinds of built-in plugins share: the GGUF writer and the llama.cpp process (the `gguf` method and the
`llama.cpp` runtime). No plugin kind imports another; both import this."""
