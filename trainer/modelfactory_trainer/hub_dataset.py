"""`dataset: {hub: org/name, split, subset, revision}`: records of a Hub dataset, loaded with the datasets library.

The trainer reads them from the datasets cache, or downloads them where it may (MODELFACTORY_ALLOW_DOWNLOAD, as
for models: hub_download.py; HF_ENDPOINT and HF_TOKEN are honoured by the library). Every row then passes the
record contract like a line of a file (data.normalise), so `check` reports a Hub dataset's refusals with the
linter's rule ids before a job trains on it. Keys that are null in a row (Arrow fills a column or struct field
some rows lack with nulls, at any depth) are dropped from that row first, as the row never had them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from .errors import DatasetError, DownloadDisabledError, HubGatedError, HubNotFoundError, TrainerError
from .hub_download import TOKEN_ADVICE, downloads_allowed

if TYPE_CHECKING:
    from .config import FinetuneConfig

DEFAULT_SPLIT = "train"


def is_hub_dataset(config: FinetuneConfig) -> bool:
    return "hub" in config.dataset


def hub_label(config: FinetuneConfig) -> str:
    dataset = config.dataset
    subset = f"/{dataset['subset']}" if dataset.get("subset") else ""
    at = f"@{dataset['revision']}" if dataset.get("revision") else ""
    return f"hub:{dataset['hub']}{subset}{at}[{dataset.get('split', DEFAULT_SPLIT)}]"


def _translate(exc: BaseException, repo: str) -> TrainerError:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(item) for item in chain)
    if any(isinstance(item, GatedRepoError) for item in chain) or "gated" in text.lower():
        return HubGatedError(f"the dataset {repo} is gated: accept its terms on the Hub with your account, then {TOKEN_ADVICE}")
    names = {type(item).__name__ for item in chain}
    if not downloads_allowed() and ("OfflineModeIsEnabled" in text or names & {"ConnectionError", "LocalEntryNotFoundError"}):
        return DownloadDisabledError(
            f"the dataset {repo} is not in this machine's datasets cache and this trainer may not download: start the "
            "job server with --allow-download (or turn on modelfactory.trainer.allowDownload for the local trainer)"
        )
    if any(isinstance(item, RepositoryNotFoundError) for item in chain) or "DatasetNotFoundError" in names:
        return HubNotFoundError(
            f"the dataset {repo} was not found on the Hub: check dataset.hub's spelling; if it is private, {TOKEN_ADVICE}"
        )
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DatasetError(f"cannot load the Hub dataset {repo}: {first}")


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def hub_records(config: FinetuneConfig) -> Iterator[tuple[str, Any]]:
    """(location, record) for every row of the configured split; locations are `hub:org/name[split][row]`."""
    dataset = config.dataset
    repo = str(dataset["hub"])
    try:
        from datasets import load_dataset

        rows = load_dataset(
            repo,
            name=dataset.get("subset"),
            split=str(dataset.get("split", DEFAULT_SPLIT)),
            revision=dataset.get("revision"),
        )
    except TrainerError:
        raise
    except Exception as exc:  # the datasets library raises many kinds; each becomes a typed error
        raise _translate(exc, repo) from exc
    label = hub_label(config)
    for index, row in enumerate(rows):
        yield f"{label}[{index}]", without_nulls(row)
