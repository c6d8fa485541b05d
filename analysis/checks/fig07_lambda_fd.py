"""Fig 7, checked independently: the first meta-gradient of the validation loss with respect to
log lambda by central finite differences of a plain float64 training run (numpy, gamma = 0.9 as
a float, no fixed point), from the authors' draws. Compare with results/fig07_learned_data.h5:
log(l2[0]) - log(l2[1]) is our exact hypergradient (gradient descent, step 1).

  /usr/bin/python3 analysis/checks/fig07_lambda_fd.py [MNIST_DIR]
"""
import sys
import numpy as np, math
def idx(path, off):
    return np.fromfile(path, dtype=np.uint8)[off:]
d=(sys.argv[1] if len(sys.argv) > 1 else 'build/data/mnist') + '/'
X=idx(d+'train-images-idx3-ubyte',16).reshape(60000,784)/255.0
y=idx(d+'train-labels-idx1-ubyte',8)
mean=X.mean(axis=0)
V=(X[:10000]-mean); T=np.eye(10)[y[:10000]]
rs=np.random.RandomState(0); fake0=rs.randn(10,784)*0.01
rs=np.random.RandomState(0); rs.randn(7850); w0=rs.randn(7850)*math.exp(-4)
FT=np.eye(10)
def pred(w,X):
    W=w[:7840].reshape(784,10); b=w[7840:]
    h=X@W+b; h=h-h.max(); return h-np.log(np.exp(h).sum(1,keepdims=True))
def grad(w,X,Tt,lam):
    W=w[:7840].reshape(784,10); b=w[7840:]
    p=np.exp(pred(w,X)); dh=(p-Tt)/X.shape[0]
    return np.concatenate([(X.T@dh).ravel(), dh.sum(0)])+2*lam*w
def run(loglam, fake):
    lam=math.exp(loglam); w=w0.copy(); v=np.zeros(7850)
    for t in range(20):
        g=grad(w,fake,FT,lam); v=0.9*v-0.1*g; w=w+1.0*v
    return -np.sum(pred(w,V)*T)/10000
h=1e-4
g=(run(math.log(0.01)+h,fake0)-run(math.log(0.01)-h,fake0))/(2*h)
print("finite differences, d valid / d log lambda at meta-iteration 0:", g)
try:
    import h5py
    l2 = h5py.File("results/fig07_learned_data.h5", "r")["meta/l2"][:]
    ours = math.log(l2[0]) - math.log(l2[1])
    print("ours (exact hypergradient):", ours, " relative difference:", abs(ours - g) / abs(g))
except OSError:
    pass
