"""mrjob: word count with mrjob's local runner (Hadoop streaming simulated on local processes).

    python mrjob_count.py OUT WORKERS INPUT...

mrjob calls this same file back as its mapper and reducer (with --step-num
... arguments), so main tells the two uses apart. The mapper combines in
memory (a Counter per task, emitted at mapper_final), as any tuned mrjob
word count does; the reducer sums.
"""

import sys
from collections import Counter

from mrjob.job import MRJob
from wordcount import TOKEN, exact, write_counts


class WordCount(MRJob):
    def mapper_init(self):
        self.counts = Counter()

    def mapper(self, _, line):
        self.counts.update(TOKEN.findall(line))

    def mapper_final(self):
        yield from exact(self.counts).items()

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)


def main(out, workers, inputs):
    job = WordCount(["-r", "local", "--num-cores", str(workers), "--no-conf", *inputs])
    with job.make_runner() as runner:
        runner.run()
        counts = dict(job.parse_output(runner.cat_output()))
    write_counts(counts, out)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("-"):
        WordCount.run()  # called back by mrjob as a mapper, combiner or reducer
    else:
        main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
