"""Calibration, SmoothQuant of Llama/Mistral/Qwen-style decoders, and compressed-tensors I/O."""

import json
import os

import torch
from torch import nn

from .. import _offline
from ._modules import SmoothQuantLinear


# ------------------------------------------------------------------ calibration
@torch.no_grad()
def calibrate(model, batches, *, module_types=(nn.Linear,), names=None):
    """Per-channel max |x| of the input of every ``nn.Linear`` (or ``module_types``; or only the
    modules named in ``names``) over ``batches``, through forward pre-hooks.

    ``batches``: an iterable of model inputs: a tensor (``model(batch)``), a tuple (``model(*batch)``)
    or a dict (``model(**batch)``). Returns ``{module name: float32 [in_features] CPU tensor}``.
    """
    stats = {}
    hooks = []

    def hook_for(name):
        def hook(_module, inputs):
            x = inputs[0]
            if not isinstance(x, torch.Tensor) or x.numel() == 0:
                return
            amax = x.detach().reshape(-1, x.shape[-1]).abs().amax(dim=0).float()
            prev = stats.get(name)
            stats[name] = amax if prev is None else torch.maximum(prev, amax)
        return hook

    for name, mod in model.named_modules():
        if isinstance(mod, module_types) and (names is None or name in names):
            hooks.append(mod.register_forward_pre_hook(hook_for(name)))
    try:
        was_training = model.training
        model.eval()
        for batch in batches:
            if isinstance(batch, dict):
                model(**batch)
            elif isinstance(batch, (tuple, list)):
                model(*batch)
            else:
                model(batch)
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return {k: v.cpu() for k, v in stats.items()}


# ------------------------------------------------------------------ smoothing
def _cpu(t):
    return t.detach().to("cpu").contiguous()


def _smooth_group(norm, linears, absmax, alpha):
    """Smooth the linears that share one input into the norm before them (in place, through the
    library's sq_smooth_factors / sq_smooth_apply_to_norm / sq_smooth_apply_to_weight). Returns the
    factors (float32 [K], CPU)."""
    weights = [_cpu(lin.weight) for lin in linears]
    smooth = _offline.smooth_factors(absmax.float().contiguous(), weights, alpha)
    nw = _cpu(norm.weight)
    nb = _cpu(norm.bias) if getattr(norm, "bias", None) is not None else None
    _offline.smooth_apply_to_norm(smooth, nw, nb)
    with torch.no_grad():
        norm.weight.copy_(nw)
        if nb is not None:
            norm.bias.copy_(nb)
        for lin, w in zip(linears, weights):
            _offline.smooth_apply_to_weight(smooth, w)
            lin.weight.copy_(w)
    return smooth


def _decoder_layers(model):
    """The decoder blocks of a transformers causal LM (model.model.layers) or a bare decoder."""
    for path in ("model.layers", "layers", "model.model.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return path, obj
    raise ValueError("quantize_model: no decoder layers found (expected model.model.layers, the transformers "
                     "Llama/Mistral/Qwen layout)")


def _check_norm(norm, where):
    cls = type(norm).__name__
    if "Gemma" in cls:
        raise ValueError(f"{where} is a {cls} (weight applied as 1 + w): its smoothing cannot be folded by "
                         "sq_smooth_apply_to_norm")
    if getattr(norm, "weight", None) is None:
        raise ValueError(f"{where} ({cls}) has no weight to fold the smoothing into")


@torch.no_grad()
def quantize_model(model, alpha=0.5, *, act_stats=None, batches=None, mode="static", asymmetric=False,
                   weight_asymmetric=False, max_m=4096, smooth=True):
    """SmoothQuant W8A8 of a Llama/Mistral/Qwen-style model, in place; returns the model.

    Per decoder layer: the smoothing of q/k/v is folded into ``input_layernorm`` and that of
    gate/up into ``post_attention_layernorm`` (alpha: the migration strength), then every one of
    the seven projections becomes a :class:`SmoothQuantLinear` (``mode`` "static": per-tensor scale
    from calibration; "dynamic": per-token scales). ``o_proj`` and ``down_proj`` have no norm to fold
    into and take their own scale. ``act_stats``: from :func:`calibrate` on the float model (or give
    ``batches`` and it is run here). ``lm_head`` and the embeddings stay as they are.
    """
    if act_stats is None:
        if batches is None:
            raise ValueError("quantize_model needs act_stats (calibrate(model, batches)) or batches")
        act_stats = calibrate(model, batches)
    path, layers = _decoder_layers(model)
    kw = dict(mode=mode, asymmetric=asymmetric, weight_asymmetric=weight_asymmetric, max_m=max_m)
    for i, layer in enumerate(layers):
        prefix = f"{path}.{i}"
        attn, mlp = layer.self_attn, layer.mlp
        groups = [
            (layer.input_layernorm, attn, ("q_proj", "k_proj", "v_proj"), f"{prefix}.self_attn"),
            (layer.post_attention_layernorm, mlp, ("gate_proj", "up_proj"), f"{prefix}.mlp"),
        ]
        for norm, parent, names, where in groups:
            _check_norm(norm, f"{prefix} norm before {where}")
            keys = [f"{where}.{n}" for n in names]
            missing = [k for k in keys if k not in act_stats]
            if missing:
                raise KeyError(f"quantize_model: no calibration statistics for {missing}")
            absmax = act_stats[keys[0]]
            for k in keys[1:]:
                absmax = torch.maximum(absmax, act_stats[k])  # one input: the same statistics
            linears = [getattr(parent, n) for n in names]
            s = _smooth_group(norm, linears, absmax, alpha) if smooth else None
            for n, lin in zip(names, linears):
                setattr(parent, n, SmoothQuantLinear.from_linear(lin, act_absmax=absmax, input_smoothing=s, **kw))
        for parent, name, where in ((attn, "o_proj", f"{prefix}.self_attn.o_proj"),
                                    (mlp, "down_proj", f"{prefix}.mlp.down_proj")):
            if where not in act_stats:
                raise KeyError(f"quantize_model: no calibration statistics for {where}")
            lin = getattr(parent, name)
            setattr(parent, name, SmoothQuantLinear.from_linear(lin, act_absmax=act_stats[where], **kw))
    return model


# ------------------------------------------------------------------ compressed-tensors I/O
def _quant_args(strategy, dynamic, symmetric, observer):
    return {"num_bits": 8, "type": "int", "symmetric": symmetric, "strategy": strategy, "dynamic": dynamic,
            "group_size": None, "block_structure": None, "actorder": None, "observer": observer,
            "observer_kwargs": {}}


def quantization_config(model):
    """The llm-compressor style ``quantization_config`` (compressed-tensors, "int-quantized") of a
    model whose linears are SmoothQuantLinear (one config group per distinct scheme)."""
    schemes = {}
    ignore = []
    for name, mod in model.named_modules():
        if isinstance(mod, SmoothQuantLinear):
            key = (mod.mode, mod.asymmetric or bool(mod.act_zero_point), mod.weight_asymmetric)
            schemes.setdefault(key, []).append(name)
        elif isinstance(mod, nn.Linear):
            ignore.append(name)
    groups = {}
    for i, ((mode, act_asym, w_asym), names) in enumerate(sorted(schemes.items())):
        static = mode == "static"
        groups[f"group_{i}"] = {
            "targets": names if len(schemes) > 1 else ["Linear"],
            "weights": _quant_args("channel", False, not w_asym, "minmax"),
            "input_activations": _quant_args("tensor" if static else "token", not static, not act_asym,
                                             "minmax" if static else "memoryless"),
            "output_activations": None,
            "format": "int-quantized",
        }
    return {
        "quant_method": "compressed-tensors",
        "format": "int-quantized",
        "quantization_status": "compressed",
        "config_groups": groups,
        "ignore": ignore,
        "kv_cache_scheme": None,
        "producer": "smoothquant (libsmoothquant Python package)",
    }


def state_dict_compressed(model):
    """The model's tensors in the compressed-tensors layout: for each SmoothQuantLinear ``p``:
    ``p.weight`` int8 [N, K], ``p.weight_scale`` [N, 1], ``p.input_scale`` [1] float32 (static),
    ``p.input_zero_point`` [1] int32 (static asymmetric), ``p.weight_zero_point`` [N, 1] int8
    (asymmetric weights: a uint8 weight is stored as int8 q - 128 with zero point zp - 128, the same
    dequantized values), ``p.bias``; every other parameter and buffer as it is."""
    out = {}
    quant = {}
    for name, mod in model.named_modules():
        if isinstance(mod, SmoothQuantLinear):
            quant[name] = mod
    for name, mod in quant.items():
        p = f"{name}." if name else ""
        w, zp = mod.weight, mod.weight_zero_point
        if mod.weight_asymmetric:
            w = (w.to(torch.int16) - 128).to(torch.int8)
            zp = (zp.to(torch.int16) - 128).to(torch.int8)
        out[p + "weight"] = w
        out[p + "weight_scale"] = mod.weight_scale.reshape(-1, 1)
        if zp is not None:
            out[p + "weight_zero_point"] = zp.reshape(-1, 1)
        if mod.mode == "static":
            out[p + "input_scale"] = torch.tensor([mod.act_scale], dtype=torch.float32)
            if mod.act_zero_point:
                out[p + "input_zero_point"] = torch.tensor([mod.act_zero_point], dtype=torch.int32)
        if mod.bias is not None:
            out[p + "bias"] = mod.bias
    skip = tuple(f"{n}." if n else "" for n in quant)
    seen = {}
    for key, t in list(model.state_dict().items()):
        if any(key.startswith(s) for s in skip if s) or key in out:
            continue
        if t is None:
            continue
        ptr = (t.data_ptr(), t.dtype, tuple(t.shape))
        if t.numel() and ptr in seen:  # tied weights (lm_head = embed_tokens): stored once
            continue
        seen[ptr] = key
        out[key] = t
    return {k: v.detach().contiguous().cpu() for k, v in out.items()}


def save_compressed(model, directory):
    """Write ``model.safetensors`` and ``config.json`` (the model's transformers config, if any,
    with ``quantization_config``) in the compressed-tensors layout. Returns the quantization_config."""
    from safetensors.torch import save_file

    os.makedirs(directory, exist_ok=True)
    tensors = state_dict_compressed(model)
    qc = quantization_config(model)
    save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    cfg = model.config.to_dict() if hasattr(model, "config") and hasattr(model.config, "to_dict") else {}
    cfg["quantization_config"] = qc
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, default=str)
    return qc


def _scheme_for(qc, name):
    groups = qc.get("config_groups", {})
    for g in groups.values():
        targets = g.get("targets", [])
        if "Linear" in targets or name in targets:
            return g
    return None


@torch.no_grad()
def load_compressed(model, directory, *, max_m=4096, device=None):
    """Load a compressed-tensors "int-quantized" W8A8 checkpoint (``model.safetensors`` +
    ``config.json``) into ``model``, a float model of the same architecture (built from the config;
    its weights are replaced): each linear with a ``weight_scale`` becomes a SmoothQuantLinear
    (input_scale present: static; absent: dynamic per token). Returns the model."""
    from safetensors.torch import load_file

    with open(os.path.join(directory, "config.json")) as f:
        qc = json.load(f).get("quantization_config")
    if not qc or qc.get("quant_method") != "compressed-tensors":
        raise ValueError(f"{directory}/config.json has no compressed-tensors quantization_config")
    fmt = qc.get("format")
    if fmt not in ("int-quantized", None):
        raise ValueError(f"quantization_config format {fmt!r}: only 'int-quantized' (W8A8 int8) is supported")
    tensors = load_file(os.path.join(directory, "model.safetensors"))
    scaled = sorted(k[: -len(".weight_scale")] for k in tensors if k.endswith(".weight_scale"))
    modules = dict(model.named_modules())
    for name in scaled:
        lin = modules.get(name)
        if not isinstance(lin, nn.Linear):
            raise ValueError(f"checkpoint has {name}.weight_scale but the model's {name} is not an nn.Linear")
        g = _scheme_for(qc, name) or {}
        wq = g.get("weights") or {}
        aq = g.get("input_activations") or {}
        if wq.get("num_bits", 8) != 8 or wq.get("type", "int") != "int":
            raise ValueError(f"{name}: weights are {wq.get('num_bits')}-bit {wq.get('type')}: only int8")
        w = tensors.pop(f"{name}.weight")
        ws = tensors.pop(f"{name}.weight_scale").reshape(-1)
        if ws.numel() == 1:  # TENSOR strategy: one scale, repeated per channel
            ws = ws.repeat(w.shape[0])
        zp = tensors.pop(f"{name}.weight_zero_point", None)
        if zp is not None and not torch.any(zp != 0):
            zp = None  # all-zero zero points of a symmetric scheme
        in_scale = tensors.pop(f"{name}.input_scale", None)
        in_zp = tensors.pop(f"{name}.input_zero_point", None)
        bias = tensors.pop(f"{name}.bias", None)
        static = in_scale is not None
        act_zp = int(in_zp.reshape(-1)[0]) if in_zp is not None else 0
        asym_act = not aq.get("symmetric", True) and not static
        dtype = lin.weight.dtype if lin.weight.dtype.is_floating_point else ws.dtype
        mod = SmoothQuantLinear(lin.in_features, lin.out_features, bias is not None,
                                mode="static" if static else "dynamic",
                                act_scale=float(in_scale.reshape(-1)[0]) if static else None, act_zero_point=act_zp,
                                dtype=dtype, device=device or lin.weight.device, asymmetric=asym_act,
                                weight_asymmetric=zp is not None, max_m=max_m)
        if zp is not None:  # stored as int8 q - 128 / zp - 128: back to the uint8 plan layout
            mod.weight.copy_((w.to(torch.int16) + 128).to(torch.uint8))
            mod.weight_zero_point.copy_((zp.reshape(-1).to(torch.int16) + 128).to(torch.uint8))
        else:
            mod.weight.copy_(w)
        mod.weight_scale.copy_(ws.to(dtype))
        if bias is not None:
            mod.bias.copy_(bias)
        if mod.weight_sums is not None:
            mod.weight_sums.copy_(_offline.weight_sums(mod.weight.cpu()))
        parent_name, _, child = name.rpartition(".")
        parent = modules[parent_name] if parent_name else model
        setattr(parent, child, mod)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    unexpected = [k for k in unexpected]
    if unexpected:
        raise ValueError(f"checkpoint tensors the model has no place for: {unexpected[:8]}")
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    if device is not None:
        model.to(device)
    return model
