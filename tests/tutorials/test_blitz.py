# Source: "Deep Learning with PyTorch: A 60 Minute Blitz" (tensor_tutorial, autograd_tutorial,
# neural_networks_tutorial, cifar10_tutorial), pytorch.org/tutorials/beginner/deep_learning_60min_blitz.html
# (BSD-3-Clause licence, PyTorch contributors), written from the tutorial in its own style.
#
# Lines changed from the tutorial:
#   * the imports: glassnet instead of torch (torch, torch.nn, torch.nn.functional, torch.optim,
#     torch.utils.data);
#   * the classifier section trains on scikit-learn's bundled 8x8 digits instead of downloading
#     CIFAR-10 with torchvision, so the Net is sized for 1x8x8 inputs and 10 digit classes;
#   * print() calls are kept; asserts are added after them ("# test");
#   * any other change carries a "# glassnet:" comment saying why.
import numpy as np
import pytest

import glassnet as torch  # was: import torch
import glassnet.nn as nn  # was: import torch.nn as nn
import glassnet.nn.functional as F  # was: import torch.nn.functional as F
import glassnet.optim as optim  # was: import torch.optim as optim
from glassnet.utils.data import DataLoader, TensorDataset  # was: from torch.utils.data import ...


def test_tensors():
    # Initializing a Tensor
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)

    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)

    x_ones = torch.ones_like(x_data)  # retains the properties of x_data
    print(f"Ones Tensor: \n {x_ones} \n")

    x_rand = torch.rand_like(x_data, dtype=torch.float)  # overrides the datatype of x_data
    print(f"Random Tensor: \n {x_rand} \n")
    assert x_ones.dtype == x_data.dtype and x_rand.dtype == torch.float  # test

    shape = (2, 3,)
    rand_tensor = torch.rand(shape)
    ones_tensor = torch.ones(shape)
    zeros_tensor = torch.zeros(shape)
    print(f"Random Tensor: \n {rand_tensor} \n")
    print(f"Ones Tensor: \n {ones_tensor} \n")
    print(f"Zeros Tensor: \n {zeros_tensor}")

    # Attributes of a Tensor
    tensor = torch.rand(3, 4)
    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")
    assert tensor.shape == (3, 4) and tensor.dtype == torch.float32 and str(tensor.device) == "cpu"  # test

    # We move our tensor to the GPU if available
    if torch.cuda.is_available():
        tensor = tensor.to("cuda")

    # Standard numpy-like indexing and slicing
    tensor = torch.ones(4, 4)
    print(f"First row: {tensor[0]}")
    print(f"First column: {tensor[:, 0]}")
    print(f"Last column: {tensor[..., -1]}")
    tensor[:, 1] = 0
    print(tensor)
    assert tensor.sum().item() == 12 and tensor[2, 1].item() == 0  # test

    # Joining tensors
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    print(t1)
    assert t1.shape == (4, 12)  # test

    # Arithmetic operations
    # This computes the matrix multiplication between two tensors. y1, y2, y3 will have the same value
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)

    y3 = torch.rand_like(y1)
    torch.matmul(tensor, tensor.T, out=y3)
    np.testing.assert_allclose(y1.numpy(), y2.numpy())  # test
    np.testing.assert_allclose(y1.numpy(), y3.numpy())  # test

    # This computes the element-wise product. z1, z2, z3 will have the same value
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)

    z3 = torch.rand_like(tensor)
    torch.mul(tensor, tensor, out=z3)
    np.testing.assert_allclose(z1.numpy(), z2.numpy())  # test
    np.testing.assert_allclose(z1.numpy(), z3.numpy())  # test

    # Single-element tensors
    agg = tensor.sum()
    agg_item = agg.item()
    print(agg_item, type(agg_item))
    assert agg_item == 12.0 and isinstance(agg_item, float)  # test

    # In-place operations
    print(f"{tensor} \n")
    tensor.add_(5)
    print(tensor)
    assert tensor.sum().item() == 12 + 16 * 5  # test

    # Bridge with NumPy: Tensor to NumPy array
    t = torch.ones(5)
    print(f"t: {t}")
    n = t.numpy()
    print(f"n: {n}")

    # A change in the tensor reflects in the NumPy array.
    t.add_(1)
    print(f"t: {t}")
    print(f"n: {n}")
    np.testing.assert_array_equal(n, np.full(5, 2.0))  # test

    # NumPy array to Tensor
    n = np.ones(5)
    t = torch.from_numpy(n)

    # Changes in the NumPy array reflects in the tensor.
    np.add(n, 1, out=n)
    print(f"t: {t}")
    print(f"n: {n}")
    np.testing.assert_array_equal(t.numpy(), np.full(5, 2.0))  # test


def test_autograd():
    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)

    Q = 3*a**3 - b**2

    external_grad = torch.tensor([1., 1.])
    Q.backward(gradient=external_grad)

    # check if collected gradients are correct
    print(9*a**2 == a.grad)
    print(-2*b == b.grad)
    assert np.all((9*a**2 == a.grad).numpy()) and np.all((-2*b == b.grad).numpy())  # test

    # Exclusion from the DAG
    x = torch.rand(5, 5)
    y = torch.rand(5, 5)
    z = torch.rand((5, 5), requires_grad=True)

    a = x + y
    print(f"Does `a` require gradients?: {a.requires_grad}")
    b = x + z
    print(f"Does `b` require gradients?: {b.requires_grad}")
    assert not a.requires_grad and b.requires_grad  # test


class Net(nn.Module):
    """The neural-networks section's LeNet; its first layer takes 1 input image channel."""

    def __init__(self):
        super(Net, self).__init__()
        # 1 input image channel, 6 output channels, 5x5 square convolution
        # kernel
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        # Convolution layer C1: 1 input image channel, 6 output channels,
        # 5x5 square convolution, it uses RELU activation function, and
        # outputs a Tensor with size (N, 6, 28, 28), where N is the size of the batch
        c1 = F.relu(self.conv1(input))
        # Subsampling layer S2: 2x2 grid, purely functional,
        # this layer does not have any parameter, and outputs a (N, 6, 14, 14) Tensor
        s2 = F.max_pool2d(c1, (2, 2))
        # Convolution layer C3: 6 input channels, 16 output channels,
        # 5x5 square convolution, it uses RELU activation function, and
        # outputs a (N, 16, 10, 10) Tensor
        c3 = F.relu(self.conv2(s2))
        # Subsampling layer S4: 2x2 grid, purely functional,
        # this layer does not have any parameter, and outputs a (N, 16, 5, 5) Tensor
        s4 = F.max_pool2d(c3, 2)
        # Flatten operation: purely functional, outputs a (N, 400) Tensor
        s4 = torch.flatten(s4, 1)
        # Fully connected layer F5: (N, 400) Tensor input,
        # and outputs a (N, 120) Tensor, it uses RELU activation function
        f5 = F.relu(self.fc1(s4))
        # Fully connected layer F6: (N, 120) Tensor input,
        # and outputs a (N, 84) Tensor, it uses RELU activation function
        f6 = F.relu(self.fc2(f5))
        # Gaussian layer OUTPUT: (N, 84) Tensor input, and
        # outputs a (N, 10) Tensor
        output = self.fc3(f6)
        return output


def test_neural_networks():
    net = Net()
    print(net)

    params = list(net.parameters())
    print(len(params))
    print(params[0].size())  # conv1's .weight
    assert len(params) == 10 and params[0].size() == (6, 1, 5, 5)  # test

    input = torch.randn(1, 1, 32, 32)
    out = net(input)
    print(out)
    assert out.shape == (1, 10)  # test

    net.zero_grad()
    out.backward(torch.randn(1, 10))

    # Loss Function
    output = net(input)
    target = torch.randn(10)  # a dummy target, for example
    target = target.view(1, -1)  # make it the same shape as output
    criterion = nn.MSELoss()

    loss = criterion(output, target)
    print(loss)

    print(loss.grad_fn)  # MSELoss
    print(loss.grad_fn.next_functions[0][0])  # Linear
    print(loss.grad_fn.next_functions[0][0].next_functions[0][0])  # ReLU
    assert loss.grad_fn is not None and loss.grad_fn.next_functions[0][0] is not None  # test

    # Backprop
    net.zero_grad()     # zeroes the gradient buffers of all parameters

    print('conv1.bias.grad before backward')
    print(net.conv1.bias.grad)

    loss.backward()

    print('conv1.bias.grad after backward')
    print(net.conv1.bias.grad)
    assert net.conv1.bias.grad.shape == (6,) and np.abs(net.conv1.bias.grad.numpy()).sum() > 0  # test

    # Update the weights: weight = weight - learning_rate * gradient
    learning_rate = 0.01
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)
    assert criterion(net(input), target).item() < loss.item()  # test: a step down the gradient lowers the loss

    # create your optimizer
    optimizer = optim.SGD(net.parameters(), lr=0.01)

    # in your training loop:
    before = criterion(net(input), target).item()  # test
    optimizer.zero_grad()   # zero the gradient buffers
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()    # Does the update
    assert criterion(net(input), target).item() < before  # test


def _digits_loaders(batch_size=4):  # replaces torchvision.datasets.CIFAR10 and its transforms
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0 - 0.5) / 0.5  # transforms.Normalize((0.5,), (0.5,))
    images = images.astype(np.float32)[:, None]  # N x 1 x 8 x 8
    labels = digits.target.astype(np.int64)
    trainset = TensorDataset(torch.from_numpy(images[:1200]), torch.from_numpy(labels[:1200]))
    testset = TensorDataset(torch.from_numpy(images[1200:]), torch.from_numpy(labels[1200:]))
    trainloader = DataLoader(trainset, batch_size=batch_size, shuffle=True, num_workers=2)
    testloader = DataLoader(testset, batch_size=batch_size, shuffle=False, num_workers=2)
    return trainloader, testloader


def test_training_a_classifier():
    torch.manual_seed(0)  # test: a reproducible run
    batch_size = 8  # tutorial: 4 (on 50,000 images); a few more per step here keeps the test fast
    trainloader, testloader = _digits_loaders(batch_size)
    classes = tuple(str(d) for d in range(10))

    class Net(nn.Module):  # sized for 1x8x8 digits (the tutorial's is for 3x32x32 CIFAR-10 images)
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 3, padding=1)
            self.fc1 = nn.Linear(16 * 2 * 2, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)  # flatten all dimensions except batch
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    net = Net()

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)  # tutorial: lr=0.001, for 25x more steps

    epoch_losses = []  # test
    for epoch in range(3):  # loop over the dataset multiple times

        running_loss = 0.0
        epoch_loss = 0.0  # test
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            epoch_loss += loss.item()  # test
            if i % 50 == 49:    # print every 50 mini-batches
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 50:.3f}')
                running_loss = 0.0
        epoch_losses.append(epoch_loss)  # test

    print('Finished Training')
    assert epoch_losses[-1] < 0.5 * epoch_losses[0]  # test

    dataiter = iter(testloader)
    images, labels = next(dataiter)
    outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}' for j in range(4)))

    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

    print(f'Accuracy of the network on the {total} test images: {100 * correct // total} %')
    assert correct / total > 0.8  # test: chance is 10%

    # prepare to count predictions for each class
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}

    # again no gradients needed
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            # collect the correct predictions for each class
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    # print accuracy for each class
    for classname, correct_count in correct_pred.items():
        accuracy = 100 * float(correct_count) / total_pred[classname]
        print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')
    assert sum(total_pred.values()) == total  # test
