# sem.py A.txt B.txt: compare rows on the fields that do not hold addresses (seq, kind, tid, size, site, pc symbol) + edge count
# (h-rec8) needs bench/rec7/mk.sh and cmp.sh made for this tree: sed "s#/work/wt/rec7#<worktree>#g; s#/tmp/rec7#/tmp/rec8#g; s#ht-build-ed2638b5#ht-build-fccd799#"
# (h-rec8) sem.py A.txt B.txt (cmp.sh outputs): rows compared on their non-address fields
import sys
def rows(p):
    return [l.rstrip('\n').split('|') for l in open(p)]
a,b=rows(sys.argv[1]),rows(sys.argv[2])
key=lambda f:(f[0],f[1],f[2],f[4] if f[1]!='edge' else '',f[8],f[9])
bad=sum(1 for x,y in zip(a,b) if key(x)!=key(y))
print('rows',len(a),len(b),'edges',sum(f[1]=='edge' for f in a),sum(f[1]=='edge' for f in b),'non-address mismatches',bad)
