# Source: pytorch/examples, mnist/main.py, github.com/pytorch/examples/blob/main/mnist/main.py
# (BSD-3-Clause licence, PyTorch contributors), written from the example in its own style.
#
# Lines changed from the example:
#   * the imports: glassnet instead of torch (torch, torch.nn, torch.nn.functional, torch.optim,
#     torch.optim.lr_scheduler); torchvision's MNIST download is replaced by scikit-learn's bundled
#     8x8 digits wrapped in a TensorDataset (normalized as the example's transforms.Normalize does);
#   * the Net is sized for 8x8 images: fc1 takes 64*2*2 features (the example: 9216 for 28x28);
#   * argparse is replaced by an args namespace with the example's defaults, fewer epochs;
#   * torch.save writes to pytest's tmp_path; asserts are added ("# test");
#   * any other change carries a "# glassnet:" comment saying why.
from types import SimpleNamespace

import numpy as np

import glassnet as torch  # was: import torch
import glassnet.nn as nn  # was: import torch.nn as nn
import glassnet.nn.functional as F  # was: import torch.nn.functional as F
import glassnet.optim as optim  # was: import torch.optim as optim
from glassnet.optim.lr_scheduler import StepLR  # was: from torch.optim.lr_scheduler import StepLR
from glassnet.utils.data import TensorDataset  # was: from torchvision import datasets, transforms


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(256, 128)  # the example: nn.Linear(9216, 128) for 28x28 images
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
            if args.dry_run:
                break


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)

    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))
    return test_loss, correct / len(test_loader.dataset)  # test: the example returns nothing


test.__test__ = False  # test: the example's test() is not a pytest test


def _digits():  # replaces datasets.MNIST('../data', train=..., download=True, transform=transform)
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = ((digits.images / 16.0 - 0.1307) / 0.3081).astype(np.float32)[:, None]  # Normalize((0.1307,), (0.3081,))
    labels = digits.target.astype(np.int64)
    dataset1 = TensorDataset(torch.from_numpy(images[:1400]), torch.from_numpy(labels[:1400]))
    dataset2 = TensorDataset(torch.from_numpy(images[1400:]), torch.from_numpy(labels[1400:]))
    return dataset1, dataset2


def main(tmp_path):
    # Training settings (the example's argparse defaults; fewer epochs, smaller batches for 1,400 images)
    args = SimpleNamespace(batch_size=32, test_batch_size=1000, epochs=2, lr=1.0, gamma=0.7,
                           no_cuda=False, no_mps=False, dry_run=False, seed=1, log_interval=10,
                           save_model=True)
    use_cuda = not args.no_cuda and torch.cuda.is_available()

    torch.manual_seed(args.seed)

    device = torch.device("cuda" if use_cuda else "cpu")

    train_kwargs = {'batch_size': args.batch_size}
    test_kwargs = {'batch_size': args.test_batch_size}
    if use_cuda:
        cuda_kwargs = {'num_workers': 1,
                       'pin_memory': True,
                       'shuffle': True}
        train_kwargs.update(cuda_kwargs)
        test_kwargs.update(cuda_kwargs)
    train_kwargs['shuffle'] = True  # test: the example shuffles only on CUDA; shuffling helps 2 short epochs

    dataset1, dataset2 = _digits()
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    results = [test(model, device, test_loader)]  # test: before training
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        results.append(test(model, device, test_loader))  # test: the example calls test(...) alone
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), tmp_path / "mnist_cnn.pt")
    return model, optimizer, results


def test_mnist_example(tmp_path):
    model, optimizer, results = main(tmp_path)
    (loss0, acc0), (loss1, _), (loss2, acc2) = results
    assert loss2 < loss1 < loss0
    assert acc2 > 0.8 and acc0 < 0.3
    assert abs(optimizer.param_groups[0]["lr"] - 1.0 * 0.7 ** 2) < 1e-12  # StepLR stepped once per epoch

    # the saved state dict loads back into a fresh Net and gives the same predictions
    restored = Net()
    restored.load_state_dict(torch.load(tmp_path / "mnist_cnn.pt"))
    restored.eval()
    model.eval()
    testset = _digits()[1]
    x = testset.tensors[0][:50]  # test
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)
