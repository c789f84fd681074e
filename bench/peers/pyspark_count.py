"""pyspark: word count with Spark in local mode, local[WORKERS].

    python pyspark_count.py OUT WORKERS INPUT...

textFile splits the inputs into line-aligned blocks; each partition is
counted with the peers' shared map function (counting.py:
the plain count, or mrkit's count_words with MRBENCH_COUNT=count_words) (a Counter per partition, not a Python
tuple per word) and reduceByKey merges. The JVM start-up is part of the wall
time, as it is for anyone who runs this.
"""

import operator
import os
import pathlib
import sys

from counting import count_text
from pyspark.sql import SparkSession
from wordcount import write_counts


def count_partition(lines):
    return count_text("\n".join(lines)).items()


def main(out, workers, inputs):
    # Keep Spark on the loopback interface: it otherwise binds the host's address.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (
        SparkSession.builder.master(f"local[{workers}]")
        .appName("mrkit-bench-wc")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        sc = spark.sparkContext
        for module in ("wordcount.py", "counting.py"):  # the Python workers import both
            sc.addPyFile(str(pathlib.Path(__file__).with_name(module)))
        rdd = sc.textFile(",".join(inputs), minPartitions=len(inputs))
        counts = dict(rdd.mapPartitions(count_partition).reduceByKey(operator.add).collect())
    finally:
        spark.stop()
    write_counts(counts, out)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
