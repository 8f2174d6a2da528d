"""File operations through Hadoop's FileSystem API, so the same calls work on s3:// (Glue's
S3A) and on local paths, and the partitioned reads and staged writes built on them."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

S3_SCHEMES = ("s3", "s3a")


class Files:
    """The few file operations the commit protocol needs, through Hadoop's FileSystem API.

    Local paths use the raw local file system (no `.crc` side files). Nothing here relies on a
    rename or a directory operation being atomic: S3 has neither.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._jvm = spark._jvm
        self._conf = spark._jsc.hadoopConfiguration()
        self._checksummed = self._jvm.java.lang.Class.forName(
            "org.apache.hadoop.fs.ChecksumFileSystem"
        )
        self._s3_client = None

    def _resolve(self, path: str):
        jpath = self._jvm.org.apache.hadoop.fs.Path(path)
        fs = jpath.getFileSystem(self._conf)
        return (fs.getRawFileSystem() if self._checksummed.isInstance(fs) else fs), jpath

    def exists(self, path: str) -> bool:
        fs, jpath = self._resolve(path)
        return bool(fs.exists(jpath))

    def _children(self, path: str) -> list:
        fs, jpath = self._resolve(path)
        return list(fs.listStatus(jpath)) if fs.exists(jpath) else []

    def list_files(self, path: str) -> list[str]:
        """Names of the files directly in a folder (hidden ones included); [] if it is absent."""
        return sorted(s.getPath().getName() for s in self._children(path) if s.isFile())

    def list_dirs(self, path: str) -> list[str]:
        return sorted(s.getPath().getName() for s in self._children(path) if s.isDirectory())

    def list_tree(self, path: str, suffix: str) -> list[str]:
        """Every visible file below a folder whose name ends with `suffix`, relative to it."""
        return sorted(self.list_tree_times(path, suffix))

    def list_tree_times(self, path: str, suffix: str) -> dict[str, int]:
        """`list_tree` with each file's modification time (ms): one recursive listing."""
        fs, jpath = self._resolve(path)
        if not fs.exists(jpath):
            return {}
        found, files = {}, fs.listFiles(jpath, True)
        root = fs.makeQualified(jpath).toString().rstrip("/")
        while files.hasNext():
            status = files.next()
            rel = status.getPath().toString()[len(root) :].strip("/")
            if rel.endswith(suffix) and all(visible(p) for p in rel.split("/")):
                found[rel] = int(status.getModificationTime())
        return found

    def read_text(self, path: str) -> str:
        fs, jpath = self._resolve(path)
        stream = fs.open(jpath)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode()
        finally:
            stream.close()

    def write_text(self, path: str, text: str) -> None:
        """One PUT on S3 (the object appears whole when the stream closes)."""
        fs, jpath = self._resolve(path)
        stream = fs.create(jpath, True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()

    def copy(self, source: str, target: str) -> None:
        """Copies one file, whole or not at all. Within one S3 bucket the copy is done by S3
        itself (no byte passes through the driver); elsewhere Hadoop reads and writes it."""
        src_fs, src = self._resolve(source)
        dst_fs, dst = self._resolve(target)
        src_uri, dst_uri = src_fs.makeQualified(src).toUri(), dst_fs.makeQualified(dst).toUri()
        if src_uri.getScheme() in S3_SCHEMES and src_uri.getHost() == dst_uri.getHost():
            bucket = src_uri.getHost()
            self._s3().copy(
                {"Bucket": bucket, "Key": src_uri.getPath().lstrip("/")},
                bucket,
                dst_uri.getPath().lstrip("/"),
                Config=self._single_copy,
            )
            return
        util = self._jvm.org.apache.hadoop.fs.FileUtil
        if not util.copy(src_fs, src, dst_fs, dst, False, True, self._conf):
            raise OSError(f"could not copy {source} to {target}")

    def _s3(self):
        """boto3's S3 client with the S3A connector's endpoint settings, when there are any (a
        local S3 API in tests); on Glue the defaults: the job role, the job's region."""
        if self._s3_client is None:
            import boto3
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config

            get = self._conf.get
            endpoint = get("fs.s3a.endpoint")
            options = {}
            if endpoint:
                options["endpoint_url"] = endpoint
                options["region_name"] = get("fs.s3a.endpoint.region") or "us-east-1"
            if get("fs.s3a.access.key"):
                options["aws_access_key_id"] = get("fs.s3a.access.key")
                options["aws_secret_access_key"] = get("fs.s3a.secret.key")
            style = "path" if get("fs.s3a.path.style.access") == "true" else "auto"
            config = Config(s3={"addressing_style": style}, retries={"mode": "standard"})
            self._s3_client = boto3.client("s3", config=config, **options)
            # One CopyObject up to 5 GiB (S3's limit for it); a multipart copy above.
            self._single_copy = TransferConfig(multipart_threshold=5 * 1024**3)
        return self._s3_client

    def delete(self, path: str, recursive: bool = False) -> None:
        fs, jpath = self._resolve(path)
        fs.delete(jpath, recursive)


def partition_path(table_path: str, names: tuple[str, ...], values: tuple[str, ...]) -> str:
    return table_path + "/" + partition_dir(names, values)


def partition_dir(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    return "/".join(f"{n}={v}" for n, v in zip(names, values, strict=True))


def read_partitions(
    spark: SparkSession,
    table_path: str,
    names: tuple[str, ...],
    values: list[tuple[str, ...]] | None,
) -> DataFrame | None:
    """Reads the given partitions of a table (all of it when `values` is None), or None.

    Partition columns come back as strings: the session has type inference off.
    """
    files = Files(spark)
    if values is None:
        paths = [table_path] if files.exists(table_path) else []
    else:
        paths = [partition_path(table_path, names, v) for v in values]
        paths = [p for p in paths if files.exists(p)]
    if not paths:
        return None
    return spark.read.option("basePath", table_path).option("mergeSchema", "true").parquet(*paths)


def write_staged(df: DataFrame, staged_path: str, names: tuple[str, ...], sort_col: str) -> None:
    """Writes a run's partitions into its own, new staging folder: one file per partition,
    rows in a stable order. Spark never writes into the table itself."""
    (
        df.repartition(*names)
        .sortWithinPartitions(*names, sort_col)
        .write.mode("errorifexists")
        .partitionBy(*names)
        .parquet(staged_path)
    )


def visible(name: str) -> bool:
    return not name.startswith(("_", "."))
