// Tokenization module.
