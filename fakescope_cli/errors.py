"""The few domain exceptions the library raises; the CLI maps them to exit codes."""


class FakeScopeError(Exception):
    """Base class: a problem the user can act on, described in one line."""


class ModelNotFoundError(FakeScopeError):
    """No model pair could be located through flags, environment, config or the models folder."""


class ModelFileError(FakeScopeError):
    """A model file is missing, truncated, not a GGUF, or does not match its partner."""


class ImageInputError(FakeScopeError):
    """An input file could not be read as an image (not an image, truncated, too large ...)."""


class InferenceError(FakeScopeError):
    """llama.cpp or libmtmd reported a failure while evaluating an image."""


class ConversionError(FakeScopeError):
    """A checkpoint could not be exported to GGUF."""


class ConfigError(FakeScopeError):
    """The configuration file or a setting is invalid."""


class DatasetError(FakeScopeError):
    """A training or evaluation dataset is malformed (unreadable image, missing label ...)."""
