"""A small GPT: a decoder-only transformer that predicts the next character."""
from .. import nn
from ..backend import xp
from ..random import generator as default_generator
from ..tensor import Tensor, no_grad


class GPT(nn.Module):
    """Token embedding + learned positions, ``depth`` pre-norm transformer blocks with a
    causal mask (each position attends only to itself and the past), a final LayerNorm
    and a linear head giving a score for every token of the vocabulary.

    Shape: (N, T) int64 token ids, T <= context -> (N, T, vocab_size) logits.
    """

    def __init__(self, vocab_size, context=128, dim=128, depth=4, heads=4, dropout=0.0):
        super().__init__()
        self.vocab_size, self.context = vocab_size, context
        self.token_embed = nn.Embedding(vocab_size, dim)
        self.pos_embed = nn.LearnedPositionalEmbedding(context, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout, activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size)

    def forward(self, tokens):
        length = tokens.shape[1]
        if length > self.context:
            raise ValueError(f"GPT: a sequence of {length} tokens is longer than the context of {self.context}")
        x = self.pos_embed(self.token_embed(tokens))
        x = self.blocks(x, mask=nn.generate_square_subsequent_mask(length), is_causal=True)
        return self.head(self.norm(x))

    def generate(self, tokens, count, temperature=1.0, top_k=None, generator=None):
        """Extend the 1-D int array ``tokens`` by ``count`` sampled tokens: each step
        feeds the last ``context`` tokens and samples from softmax(logits / temperature)
        (only the ``top_k`` most likely tokens when given)."""
        if temperature <= 0:
            raise ValueError(f"generate: temperature must be positive, got {temperature}")
        generator = generator or default_generator()
        tokens = list(int(t) for t in tokens)
        was_training = self.training
        self.eval()
        with no_grad():
            for _ in range(count):
                window = xp.asarray(tokens[-self.context:], dtype=xp.int64)[None]
                logits = self(Tensor(window)).numpy()[0, -1].astype(xp.float64) / temperature
                if top_k:
                    logits[logits < xp.sort(logits)[-top_k]] = -xp.inf
                probs = xp.exp(logits - logits.max())
                tokens.append(int(generator.choice(len(probs), p=probs / probs.sum())))
        self.train(was_training)
        return xp.asarray(tokens, dtype=xp.int64)


def gpt(vocab_size, context=128, dim=128, depth=4, heads=4, dropout=0.0):
    return GPT(vocab_size, context, dim, depth, heads, dropout)
