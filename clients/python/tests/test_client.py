"""ctrlfuse_client against a real ctrlfuse-server: every prompt kind,
arrays and files, colour, returned masks and metrics, a stream (in order,
with a bad frame that does not end it), typed errors that name the field,
TLS with a client certificate, dns:/// targets."""
import numpy as np
import pytest

from ctrlfuse_client import TLS, Client, InvalidArgument, Unavailable, Unimplemented


@pytest.fixture
def client(server):
    with Client(server, retries=0) as c:
        yield c


def test_info_and_health(client):
    info = client.info()
    assert info["config"] == "tiny"
    assert info["max_batch_size"] == 2
    assert set(info["prompt_kinds"]) >= {"mask", "boxes", "points", "none"}
    assert client.health() == "SERVING"


def test_mask_prompt_from_arrays_returns_the_images_asked_for(client, scenes):
    ir, vis, mask = scenes["ir"][0], scenes["vis"][0], scenes["mask"][0]
    r = client.fuse(ir, vis, mask=mask, masks=["fused", "prompt"], metrics=["Qabf", "SSIM"], id="a")
    assert r.id == "a"
    assert r.fused.shape == (48, 64) and r.fused.dtype == np.uint8
    assert sorted(r.masks) == ["fused", "prompt"]
    assert np.array_equal(r.masks["prompt"], mask)  # the prompt the network got is the one sent
    assert set(np.unique(r.masks["fused"])) <= {0, 255}
    assert sorted(r.metrics) == ["Qabf", "SSIM"] and 0 <= r.metrics["Qabf"] <= 1
    assert r.timings["batch_size"] >= 1


def test_files_and_arrays_give_the_same_fusion(client, scenes):
    d = scenes["dir"]
    from_files = client.fuse(d / "ir/0001.png", d / "vi/0001.png", mask=d / "mask/0001.png")
    from_arrays = client.fuse(scenes["ir"][1], scenes["vis"][1], mask=scenes["mask"][1])
    assert np.array_equal(from_files.fused, from_arrays.fused)


def test_every_prompt_kind_and_colour(client, scenes):
    ir, vis = scenes["ir"][2], scenes["vis"][2]
    boxes = client.fuse(ir, vis, boxes=[(5, 5, 40, 30)], masks=["prompt"])
    assert boxes.masks["prompt"].shape == (48, 64)
    points = client.fuse(ir, vis, points=[(20, 20, True), (50, 40, False)], masks=["prompt"])
    assert points.masks["prompt"].shape == (48, 64)
    none = client.fuse(ir, vis)
    assert none.fused.shape == (48, 64)
    colour = client.fuse(ir, vis, colour=True)
    assert colour.fused.shape == (48, 64, 3)
    with pytest.raises(Unimplemented) as e:
        client.fuse(ir, vis, text="person .")
    assert "Grounded-SAM" in e.value.message


def test_sixteen_bit_infrared(client, scenes):
    ir16 = scenes["ir"][0].astype(np.uint16) * 257
    r = client.fuse(ir16, scenes["vis"][0], ir_normalization="minmax")
    assert r.fused.shape == (48, 64)


def test_bad_input_raises_a_typed_error_naming_the_field(client, scenes):
    with pytest.raises(InvalidArgument) as e:
        client.fuse(b"not an image", scenes["vis"][0])
    assert e.value.field == "infrared.encoded", e.value
    assert e.value.code.name == "INVALID_ARGUMENT"
    with pytest.raises(InvalidArgument) as e:
        client.fuse(scenes["ir"][0], scenes["vis"][0], mask=np.zeros((10, 10), np.uint8))
    assert e.value.field.startswith("prompt"), e.value
    with pytest.raises(ValueError):
        client.fuse(scenes["ir"][0], scenes["vis"][0], mask=scenes["mask"][0], boxes=[(0, 0, 1, 1)])


def test_stream_yields_in_order_and_a_bad_frame_does_not_end_it(client, scenes):
    frames = [{"ir": scenes["ir"][i], "vis": scenes["vis"][i], "mask": scenes["mask"][i], "id": f"f{i}"}
              for i in range(3)]
    frames.insert(1, {"ir": scenes["ir"][0], "vis": np.zeros((10, 10), np.uint8), "id": "bad"})
    results = list(client.fuse_stream(frames))
    assert [r.id for r in results] == ["f0", "bad", "f1", "f2"]
    assert [r.error is None for r in results] == [True, False, True, True]
    assert isinstance(results[1].error, InvalidArgument)
    assert all(r.fused.shape == (48, 64) for r in results if r.error is None)
    # The same pair fused alone and in the stream: the same image.
    alone = client.fuse(scenes["ir"][2], scenes["vis"][2], mask=scenes["mask"][2])
    assert np.array_equal(alone.fused, results[3].fused)


def test_dns_targets_and_an_unreachable_server(server, scenes):
    port = server.rsplit(":", 1)[1]
    with Client(f"dns:///localhost:{port}", retries=0) as c:
        assert c.fuse(scenes["ir"][0], scenes["vis"][0]).fused.shape == (48, 64)
    with Client("127.0.0.1:1", retries=1, backoff=0.01, deadline=10) as c:
        with pytest.raises(Unavailable):
            c.info()


def test_tls_with_a_client_certificate(tls_server, certs, scenes):
    tls = TLS(certs / "ca.pem", cert=certs / "client.pem", key=certs / "client.key")
    with Client(tls_server, tls=tls, retries=0) as c:
        assert c.health() == "SERVING"
        assert c.fuse(scenes["ir"][0], scenes["vis"][0]).fused.shape == (48, 64)
    with Client(tls_server, tls=TLS(certs / "ca.pem"), retries=0, deadline=10) as c:  # no client certificate
        with pytest.raises(Unavailable):
            c.health()
    with Client(tls_server, retries=0, deadline=10) as c:  # plaintext
        with pytest.raises(Unavailable):
            c.health()
