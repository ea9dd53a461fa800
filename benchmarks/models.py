"""The public benchmark set: models written out here, so nothing is downloaded.

Each entry of :data:`MODELS` builds a model in eval mode with fixed random weights and its
example inputs. The sizes follow the models people bring (ResNet-50, MobileNetV3-small and
ViT-B/16 as torchvision defines them, BERT-base's shape for the traced encoder); every factory
takes smaller sizes too, which the tests use.

    from benchmarks.models import MODELS
    bench = MODELS["transformer48"]
    model, inputs = bench.build(), bench.inputs()
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from freezeviz import examples

# --- MobileNetV3-small ------------------------------------------------------------------------


def _divisible(v: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: channel counts rounded to a multiple of 8."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


class ConvBNAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1,
                 act: type[nn.Module] | None = nn.Hardswish):
        layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout, eps=0.001, momentum=0.01)]
        if act is not None:
            layers.append(act(inplace=True))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x):
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(scale) * x


class InvertedResidual(nn.Module):
    """Expand (1x1), depthwise (kxk), squeeze-excite, project (1x1); residual when shapes allow."""

    def __init__(self, cin: int, k: int, expanded: int, cout: int, se: bool, hs: bool,
                 stride: int):
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expanded != cin:
            layers.append(ConvBNAct(cin, expanded, act=act))
        layers.append(ConvBNAct(expanded, expanded, k, stride, groups=expanded, act=act))
        if se:
            layers.append(SqueezeExcitation(expanded, _divisible(expanded // 4)))
        layers.append(ConvBNAct(expanded, cout, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        out = self.block(x)
        if self.use_res_connect:
            out = out + x
        return out


# torchvision's mobilenet_v3_small: input, kernel, expanded, output, SE, hardswish, stride
MOBILENET_V3_SMALL = (
    (16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2),
    (24, 3, 88, 24, False, False, 1), (24, 5, 96, 40, True, True, 2),
    (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
    (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1),
    (48, 5, 288, 96, True, True, 2), (96, 5, 576, 96, True, True, 1),
    (96, 5, 576, 96, True, True, 1),
)


class MobileNetV3(nn.Module):
    def __init__(self, config=MOBILENET_V3_SMALL, last_channel: int = 1024,
                 num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [ConvBNAct(3, config[0][0], 3, 2)]
        layers += [InvertedResidual(*c) for c in config]
        last_conv = 6 * config[-1][3]
        layers.append(ConvBNAct(config[-1][3], last_conv))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_conv, last_channel), nn.Hardswish(inplace=True),
            nn.Dropout(p=0.2, inplace=True), nn.Linear(last_channel, num_classes))

    def forward(self, x):
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


# --- ViT ---------------------------------------------------------------------------------------


class MLPBlock(nn.Sequential):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, dim), nn.Dropout(dropout))


class EncoderBlock(nn.Module):
    def __init__(self, heads: int, dim: int, mlp_dim: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(dim, mlp_dim)

    def forward(self, x):
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = self.dropout(y) + x
        return x + self.mlp(self.ln_2(x))


class VisionTransformer(nn.Module):
    """torchvision's VisionTransformer: patch embedding convolution, class token, position
    embedding, encoder blocks with nn.MultiheadAttention, a final LayerNorm and a linear head."""

    def __init__(self, image_size: int = 224, patch_size: int = 16, layers: int = 12,
                 heads: int = 12, dim: int = 768, mlp_dim: int = 3072, num_classes: int = 1000):
        super().__init__()
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = dim
        self.conv_proj = nn.Conv2d(3, dim, patch_size, patch_size)
        seq = (image_size // patch_size) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.empty(1, seq, dim).normal_(std=0.02))
        self.dropout = nn.Dropout(0.0)
        self.layers = nn.Sequential(*[EncoderBlock(heads, dim, mlp_dim) for _ in range(layers)])
        self.ln = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def _process_input(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        torch._assert(h == self.image_size, "Wrong image height!")
        torch._assert(w == self.image_size, "Wrong image width!")
        x = self.conv_proj(x)
        x = x.reshape(n, self.hidden_dim, (h // self.patch_size) * (w // self.patch_size))
        return x.permute(0, 2, 1)

    def forward(self, x):
        x = self._process_input(x)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.ln(self.layers(self.dropout(x + self.pos_embedding)))
        return self.head(x[:, 0])


# --- nn.TransformerEncoder, nn.LSTM, nn.MultiheadAttention ---------------------------------------


def transformer_encoder(layers: int = 6, d_model: int = 256, nhead: int = 4) -> nn.Module:
    """``nn.TransformerEncoder`` of ``layers`` layers, d_model 256, 4 heads, feed-forward 4x."""
    layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=4 * d_model,
                                       batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False).eval()


class LSTMModel(nn.Module):
    """nn.LSTM with a linear head on the last step. A scripted nn.LSTM alone has no
    ``forward`` (only its overloads), so torch.jit.freeze would keep no method of it."""

    def __init__(self, inputs: int = 256, hidden: int = 512, layers: int = 2, outputs: int = 10):
        super().__init__()
        self.lstm = nn.LSTM(inputs, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


# --- a BERT-like encoder that only traces ---------------------------------------------------------


class ModelOutput(collections.OrderedDict):
    """As transformers' ModelOutput: a dataclass that is also an ordered dict of its fields."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                self[f.name] = value


@dataclasses.dataclass
class EncoderOutput(ModelOutput):
    last_hidden_state: torch.Tensor = None
    pooler_output: torch.Tensor = None


class BertSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(0.1)

    def _split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, h, mask):
        q, k, v = self._split(self.query(h)), self._split(self.key(h)), self._split(self.value(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask
        ctx = self.dropout(scores.softmax(-1)) @ v
        return ctx.transpose(1, 2).flatten(2)


class BertLayer(nn.Module):
    def __init__(self, dim: int, heads: int, intermediate: int):
        super().__init__()
        self.attention = BertSelfAttention(dim, heads)
        self.attention_output = nn.Linear(dim, dim)
        self.attention_norm = nn.LayerNorm(dim, eps=1e-12)
        self.intermediate = nn.Linear(dim, intermediate)
        self.output = nn.Linear(intermediate, dim)
        self.output_norm = nn.LayerNorm(dim, eps=1e-12)
        self.dropout = nn.Dropout(0.1)

    def forward(self, h, mask):
        a = self.dropout(self.attention_output(self.attention(h, mask)))
        h = self.attention_norm(h + a)
        out = self.dropout(self.output(F.gelu(self.intermediate(h))))
        return self.output_norm(h + out)


class BertLike(nn.Module):
    """A BERT encoder as transformers writes one: keyword inputs, ``**kwargs`` and a
    ModelOutput (or dict) result, so it can be traced but not scripted."""

    def __init__(self, layers: int = 12, dim: int = 768, heads: int = 12,
                 intermediate: int = 3072, vocab: int = 30522, max_positions: int = 512,
                 output: str = "model_output"):
        super().__init__()
        self.output_kind = output
        self.word_embeddings = nn.Embedding(vocab, dim)
        self.position_embeddings = nn.Embedding(max_positions, dim)
        self.token_type_embeddings = nn.Embedding(2, dim)
        self.embeddings_norm = nn.LayerNorm(dim, eps=1e-12)
        self.register_buffer("position_ids", torch.arange(max_positions).unsqueeze(0),
                             persistent=False)
        self.layer = nn.ModuleList([BertLayer(dim, heads, intermediate) for _ in range(layers)])
        self.pooler = nn.Linear(dim, dim)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, **kwargs):
        seq = input_ids.shape[1]
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        h = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
             + self.position_embeddings(self.position_ids[:, :seq]))
        h = self.embeddings_norm(h)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.layer:
            h = layer(h, mask)
        pooled = torch.tanh(self.pooler(h[:, 0]))
        if self.output_kind == "dict":
            return {"last_hidden_state": h, "pooler_output": pooled}
        return EncoderOutput(last_hidden_state=h, pooler_output=pooled)


def bert_inputs(batch: int = 2, seq: int = 32, vocab: int = 30522) -> dict:
    """Keyword inputs as a tokenizer gives them; the second sequence is padded."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[-1, seq // 2:] = 0
    return {"input_ids": ids, "attention_mask": mask}


# --- the set ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BenchModel:
    """A model of the set: ``build()`` (eval mode, seeded weights), its example inputs, and
    how torch gets a ScriptModule from it: ``script``, or ``trace`` with keyword inputs."""

    name: str
    make: Callable[[], nn.Module]
    example: Callable[[], tuple | dict]
    how: str = "script"

    def build(self) -> nn.Module:
        torch.manual_seed(0)
        return self.make().eval()

    def inputs(self):
        torch.manual_seed(1)
        return self.example()

    def script(self, model: nn.Module, inputs: dict | None = None):
        """What a user of raw torch.jit.freeze writes to get a ScriptModule of ``model``
        (traced with ``inputs``, or this model's example inputs)."""
        if self.how == "script":
            return torch.jit.script(model)
        return torch.jit.trace(model, example_kwarg_inputs=inputs or self.inputs(), strict=False)

    def freeze_kwargs(self) -> dict:
        """The arguments freezeviz.freeze needs beyond the model."""
        return {"example_kwarg_inputs": self.inputs()} if self.how == "trace" else {}


def _image(size: int = 224):
    return (torch.randn(1, 3, size, size),)


def _sequence(d_model: int = 256, seq: int = 32):
    return (torch.randn(2, seq, d_model),)


def _attention_inputs():
    x = torch.randn(2, 32, 256)
    return (x, x, x)


MODELS: dict[str, BenchModel] = {m.name: m for m in (
    BenchModel("resnet50", examples.resnet50, _image),
    BenchModel("mobilenet_v3_small", MobileNetV3, _image),
    BenchModel("vit_b_16", VisionTransformer, _image),
    BenchModel("transformer6", lambda: transformer_encoder(6), _sequence),
    BenchModel("transformer24", lambda: transformer_encoder(24), _sequence),
    BenchModel("transformer48", lambda: transformer_encoder(48), _sequence),
    BenchModel("lstm", LSTMModel, _sequence),
    BenchModel("mha", lambda: nn.MultiheadAttention(256, 4, batch_first=True), _attention_inputs),
    BenchModel("bert", BertLike, bert_inputs, how="trace"),
)}
