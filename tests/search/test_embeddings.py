"""Chunk embeddings from the real MiniLM package: cache by content hash, int8 vectors,
hybrid and vector ranking, the relevance test, numpy and GPU (lavapipe here) alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pagemind.config import load_config
from pagemind.errors import PagemindError
from pagemind.models.package import write_package
from pagemind.models.registry import load_model, resolve_model
from pagemind.search_index import SiteIndex, embeddings, is_relevant
from pagemind.search_index.embeddings import Embedder
from pagemind.search_index.index_files import dequantize, quantize
from pagemind.search_index.site_index import SiteIndexer, parse_pages
from search_site import write_site


@pytest.fixture(scope="module")
def embedder_manifest(tmp_path_factory) -> Path:
    """The default embedder packaged as a build packages it for the browser."""
    model = load_model(resolve_model("all-minilm-l6-v2", "embedder", Path.cwd()))
    folder = tmp_path_factory.mktemp("embedder")
    return write_package(model, folder, name="embedder").manifest_path


def test_an_edit_re_embeds_only_the_chunk_it_changed(tmp_path, embedder_manifest) -> None:
    config = load_config(write_site(tmp_path))
    pages = parse_pages(config)
    indexer = SiteIndexer(config, embedder_manifest)
    first = indexer.update(pages, pages)
    assert indexer.cache.embedded == first.description["count"] == 6

    page = tmp_path / "docs" / "install.md"
    page.write_text(page.read_text().replace("Reboot afterwards.", "Restart afterwards."))
    pages = parse_pages(config)
    indexer.update(pages, ["install.md"])
    assert indexer.cache.embedded == 7  # the one changed section

    fresh = SiteIndexer(config, embedder_manifest)  # as a new process: the cache on disk
    again = fresh.update(pages, pages)
    assert fresh.cache.embedded == 0
    assert again.description["vectors"]["embedder"] == "models/embedder/" + embedder_manifest.name


def test_int8_vectors_keep_the_embeddings_direction() -> None:
    vectors = np.random.default_rng(0).standard_normal((50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    restored = dequantize(*quantize(vectors))
    assert np.min(np.sum(restored * vectors, axis=1)) > 0.999


def test_semantic_search_finds_sections_without_shared_words(tmp_path, embedder_manifest):
    config = load_config(write_site(tmp_path))
    files = SiteIndexer(config, embedder_manifest).update(parse_pages(config), ())
    assert files.description["vectors"]["dimensions"] == 384
    index = SiteIndex.load_files(files, embedder_manifest)

    query = "my computer must be restarted once the setup program finishes"
    assert index.search(query, k=5, mode="keyword") == []  # no word in common
    vector = index.search(query, k=1, mode="vector")
    hybrid = index.search(query, k=1)
    assert vector[0].url == hybrid[0].url == "install/#on-windows"
    assert is_relevant(hybrid)
    assert not is_relevant(index.search("a recipe for sourdough bread", k=5))


def test_chunks_larger_than_the_embedder_reads_are_refused(tmp_path, embedder_manifest):
    root = write_site(tmp_path, config='site_name = "x"\n\n[search]\nchunk_tokens = 300\n')
    with pytest.raises(PagemindError) as error:
        SiteIndexer(load_config(root), embedder_manifest)
    assert error.value.key == "search.chunk_tokens"
    assert "254" in str(error.value)


def test_a_site_without_text_has_an_empty_index(tmp_path, embedder_manifest) -> None:
    config = load_config(write_site(tmp_path, {"index.md": "---\ntitle: Soon\n---\n"}))
    files = SiteIndexer(config, embedder_manifest).update(parse_pages(config), ())
    index = SiteIndex.load_files(files, embedder_manifest)
    assert files.description["count"] == 0
    assert index.search("anything", k=5) == []
    assert not is_relevant([])


@pytest.mark.gpu
def test_embed_device_gpu_gives_numpy_s_vectors(tmp_path, embedder_manifest) -> None:
    """embed_device = "gpu" runs the compiled program on any adapter (lavapipe here) and
    reports every batch; "auto" leaves a software adapter to numpy, which is faster."""
    config = load_config(
        write_site(tmp_path, config='site_name = "x"\n\n[search]\nembed_device = "gpu"\n')
    )
    embedder = SiteIndexer(config, embedder_manifest).embedder
    sentence = "Install the package, then run the build command to write the site. "
    texts = [sentence[: 10 + 7 * i] * (1 + i % 4) for i in range(30)]
    reported: list[np.ndarray] = []
    on_gpu = embedder.embed(texts, lambda indices, _: reported.append(indices))
    assert embedder.gpu is not None
    on_cpu = Embedder(embedder_manifest, "cpu").embed(texts)
    assert np.min(np.sum(on_gpu * on_cpu, axis=1)) >= 0.999
    assert sorted(np.concatenate(reported).tolist()) == list(range(len(texts)))
    auto = Embedder(embedder_manifest, "auto")
    auto.embed(texts[:1])
    assert auto.gpu is None


def test_auto_asks_wgpu_only_where_a_gpu_driver_is(tmp_path, embedder_manifest, monkeypatch):
    """Without a GPU driver's device files (Linux), "auto" embeds with numpy at once; with them,
    wgpu is asked, and its software adapter (lavapipe here) still leaves the work to numpy."""
    from pagemind.gpu import device

    real_open_device, opened = device.open_device, []

    def open_device() -> device.GpuDevice:
        opened.append(real_open_device())
        return opened[-1]

    monkeypatch.setattr(device, "open_device", open_device)
    monkeypatch.setattr(embeddings, "GPU_DEVICE_FILES", (str(tmp_path / "no-such-device"),))
    without_driver = Embedder(embedder_manifest, "auto")
    without_driver.embed(["Install the package."])
    assert without_driver.gpu is None and not opened

    monkeypatch.setattr(embeddings, "GPU_DEVICE_FILES", (str(tmp_path),))
    with_driver = Embedder(embedder_manifest, "auto")
    vector = with_driver.embed(["Install the package."])
    assert with_driver.gpu is None and len(opened) == 1 and opened[0].is_cpu
    assert np.array_equal(vector, without_driver.embed(["Install the package."]))
